import { spawn } from 'node:child_process';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main, type CliIo } from '../../src/cli/main.js';
import { freePort } from '../../src/net.js';
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

  it('when the service refuses the signature of another token, then it exits 1 with one line naming what the simulator signed with and what the service checks', async () => {
    const result = await call(['--keys', '1#'], [], 'a-different-token');
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `pinline: the service refused the call's signature (HTTP 403 from ${phone.phone.baseUrl}/voice/incoming). ` +
        `The simulator signed for ${phone.phone.baseUrl} (PUBLIC_BASE_URL) with the TWILIO_AUTH_TOKEN of this environment; ` +
        `the service checks against its own PUBLIC_BASE_URL (its start log names it: publicBaseUrl) and TWILIO_AUTH_TOKEN. ` +
        `Use the same here: --url or PUBLIC_BASE_URL, and TWILIO_AUTH_TOKEN or the server's DATA_DIR\n`,
    );
  });

  it('when --url names the service by another host than its PUBLIC_BASE_URL, then the refusal names the URL the simulator signed for', async () => {
    const other = phone.phone.baseUrl.replace('127.0.0.1', 'localhost');
    const result = await call(['--url', other, '--keys', '1#']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`(HTTP 403 from ${other}/voice/incoming). The simulator signed for ${other} (--url)`);
  });

  it('when nothing listens at the URL, then it exits 1 naming the URL it tried and npm start', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const result = await call(['--url', url, '--keys', '1#']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `pinline: cannot reach the service at ${url}/voice/incoming (ECONNREFUSED): is it running? Start it with npm start (in another terminal), or give its address with --url\n`,
    );
  });

  it('when the service hangs up while scripted keys remain, then it exits 1 naming the keys no prompt was waiting for', async () => {
    const user = await createUser(phone.services);
    const result = await call(['--keys', `${user.extension}#`, '--keys', `${user.pin}#`, '--keys', '*', '--keys', '2', '--keys', '']);
    expect(result.stdout).toContain('pinline: Goodbye.');
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'pinline: the call ended before the script did: 2 scripted keys were not used (2 (silence)); the transcript above shows where it went otherwise\n',
    );
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
