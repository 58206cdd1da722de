import { spawn } from 'node:child_process';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main, type CliIo } from '../../src/cli/main.js';
import { createUser } from '../support/factories.js';
import { usePhoneServer } from '../support/phone.js';

const phone = usePhoneServer();

async function call(args: string[], stdin: string[] = [], tokenOverride?: string) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    stdin: Readable.from(stdin.map((line) => `${line}\n`)),
    env: {
      NODE_ENV: 'test',
      PUBLIC_BASE_URL: phone.phone.baseUrl,
      TWILIO_AUTH_TOKEN: tokenOverride ?? phone.services.config.twilioAuthToken,
      PIN_PEPPER: phone.services.config.pinPepper,
      SESSION_SECRET: phone.services.config.sessionSecret,
      DATABASE_URL: phone.database.url,
      LOG_LEVEL: 'silent',
    },
    isTTY: false,
  };
  const code = await main(['node', 'pinline', 'call', ...args], io);
  return { code, stdout, stderr };
}

describe('pinline call', () => {
  it('when the keys are scripted, then it prints the transcript and exits 0', async () => {
    const user = await createUser(phone.services);
    const result = await call(['--from', '+15551230001', '--keys', `${user.extension}#`, '--keys', `${user.pin}#`, '--keys', '2', '--keys', '*']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`caller:  ${user.extension}#`);
    expect(result.stdout).toContain('pinline: Your PIN expires in 180 days.');
    expect(result.stdout).toContain('pinline: Goodbye.');
    expect(result.stdout).toContain('[the service hung up: Hangup]');
  });

  it('when keys are typed line by line, then a bare Enter is silence and the end of input hangs up', async () => {
    const result = await call([], ['', '']);
    expect(result.code).toBe(0);
    expect(result.stdout.match(/\(silence\)/g)).toHaveLength(2);
    expect(result.stdout).toContain('Sorry, I did not receive your entry.');
    expect(result.stdout).toContain('[the caller hung up]');
  });

  it('when the service refuses the signature, then it exits 1 naming the misbehaviour', async () => {
    const result = await call(['--keys', '1#'], [], 'a-different-token');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^pinline: the service misbehaved: HTTP 403 from \/voice\/incoming/);
  });

  it('when a key is not on a phone keypad, then it exits 1 before calling', async () => {
    const result = await call(['--keys', '12a#']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('pinline: --keys may only contain 0-9, * and # (got "12a#")\n');
    expect(result.stdout).toBe('');
  });

  it('when --from is not E.164, then it exits 1 naming the flag', async () => {
    const result = await call(['--from', '5551234', '--keys', '1#']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/--from must be an E\.164 number/);
  });

  it('when keys are typed and the service hangs up first, then the command ends without waiting for more input', async () => {
    const user = await createUser(phone.services);
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const child = spawn(process.execPath, ['bin/pinline.js', 'call'], {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? '',
        NODE_ENV: 'test',
        PUBLIC_BASE_URL: phone.phone.baseUrl,
        TWILIO_AUTH_TOKEN: phone.services.config.twilioAuthToken,
        PIN_PEPPER: phone.services.config.pinPepper,
        SESSION_SECRET: phone.services.config.sessionSecret,
        DATABASE_URL: phone.database.url,
        LOG_LEVEL: 'silent',
      },
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    // stdin stays open, as at a terminal where the person has not pressed Ctrl-D.
    child.stdin.write(`${user.extension}#\n${user.pin}#\n*\n`);
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
    expect(output).toContain('pinline: Goodbye.');
  });
});
