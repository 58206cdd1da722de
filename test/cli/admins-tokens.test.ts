import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '../../src/db/pool.js';
import { createServices, type Services } from '../../src/runtime.js';
import { cliEnvFor, runCli, type CliRun } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { createUser } from '../support/factories.js';
import { silentLogger, testConfig } from '../support/services.js';

// `pinline admin …`, `pinline token …` and `pinline user delete` (DESIGN §6, §11): the CLI is the
// operator at the machine and acts as `system`, audited on channel `cli`.

let db: TestDatabase;
let pool: Pool;
let services: Services;
let dataDir: string;

beforeAll(async () => {
  db = await createTestDatabase();
  pool = createPool(db.url, silentLogger, 5);
  services = createServices(testConfig(), silentLogger, pool);
  dataDir = mkdtempSync(path.join(tmpdir(), 'pinline-cli-roles-'));
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const run = (args: string[], stdin?: string): Promise<CliRun> => runCli(args, cliEnvFor(db.url, dataDir), stdin === undefined ? {} : { stdin });

/** A refused command: a non-zero exit, nothing on stdout, and one line on stderr, returned. */
function oneLineError(result: CliRun): string {
  expect(result.code, result.stderr).not.toBe(0);
  expect(result.stdout).toBe('');
  expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
  return result.stderr.trim();
}

async function lastAudit(event: string) {
  const { rows } = await pool.query('SELECT channel, actor, extension, details FROM audit_events WHERE event = $1 ORDER BY id DESC LIMIT 1', [event]);
  return rows[0] as { channel: string; actor: string; extension: string | null; details: Record<string, unknown> } | undefined;
}

const PASSWORD = 'a long enough password\n';

describe('pinline admin', () => {
  it('when an administrator is added without --role, then they are system, and with --role they have that role; each is audited', async () => {
    expect((await run(['admin', 'add', 'root', '--password-stdin'], PASSWORD)).stdout).toBe('Created administrator root, role system.\n');
    const added = await run(['admin', 'add', 'desk', '--role', 'helpdesk', '--password-stdin'], PASSWORD);
    expect(added.stdout).toBe('Created administrator desk, role helpdesk.\n');
    expect((await services.webCredentials.verifyAdmin('desk', PASSWORD.trim()))?.role).toBe('helpdesk');
    expect(await lastAudit('admin.created')).toMatchObject({ channel: 'cli', actor: 'cli', details: { username: 'desk', role: 'helpdesk' } });
  });

  it('when the role is unknown, then add and set-role refuse in one line and nothing changes', async () => {
    expect(oneLineError(await run(['admin', 'add', 'nobody', '--role', 'owner', '--password-stdin'], PASSWORD))).toMatch(/owner.*system, helpdesk, auditor/);
    expect(await services.webCredentials.adminExists('nobody')).toBe(false);
    await run(['admin', 'add', 'watcher', '--role', 'auditor', '--password-stdin'], PASSWORD);
    expect(oneLineError(await run(['admin', 'set-role', 'watcher', 'root']))).toMatch(/root.*system, helpdesk, auditor/);
    expect((await services.webCredentials.listAdmins()).find((a) => a.username === 'watcher')?.role).toBe('auditor');
  });

  it('when the administrators are listed, then each shows with role, source and creation time', async () => {
    await run(['admin', 'add', 'lister', '--role', 'auditor', '--password-stdin'], PASSWORD);
    const listed = await run(['admin', 'list']);
    expect(listed.code).toBe(0);
    const [header, ...rows] = listed.stdout.trimEnd().split('\n');
    expect(header?.split(/\s{2,}/)).toEqual(['USERNAME', 'ROLE', 'SOURCE', 'CREATED']);
    expect(rows.find((row) => row.startsWith('lister '))?.split(/\s+/)).toEqual(['lister', 'auditor', 'local', expect.stringMatching(/^\d{4}-\d\d-\d\dT/)]);
  });

  it("when an administrator's role is set, then it is stored and audited with the one before", async () => {
    await run(['admin', 'add', 'promoted', '--role', 'auditor', '--password-stdin'], PASSWORD);
    const set = await run(['admin', 'set-role', 'promoted', 'helpdesk']);
    expect(set).toMatchObject({ code: 0, stdout: 'Administrator promoted now has the role helpdesk.\n' });
    expect((await services.webCredentials.listAdmins()).find((a) => a.username === 'promoted')?.role).toBe('helpdesk');
    expect(await lastAudit('admin.role_changed')).toMatchObject({ channel: 'cli', details: { username: 'promoted', role: 'helpdesk', previous: 'auditor' } });
  });

  it('when an administrator is removed, then they can no longer sign in, their sessions end, and it is audited', async () => {
    await run(['admin', 'add', 'leaver', '--password-stdin'], PASSWORD);
    const admin = await services.webCredentials.verifyAdmin('leaver', PASSWORD.trim());
    await pool.query(`INSERT INTO web_sessions (sid, sess, expire) VALUES ('leaver-session', $1::json, now() + interval '1 hour')`, [
      JSON.stringify({ cookie: {}, admin: { id: admin?.id, username: 'leaver', passwordChangedAt: 0 } }),
    ]);
    expect(await run(['admin', 'remove', 'leaver'])).toMatchObject({ code: 0, stdout: 'Removed administrator leaver; their web sessions have ended.\n' });
    expect(await services.webCredentials.verifyAdmin('leaver', PASSWORD.trim())).toBeNull();
    expect((await pool.query(`SELECT 1 FROM web_sessions WHERE sid = 'leaver-session'`)).rowCount).toBe(0);
    expect(await lastAudit('admin.removed')).toMatchObject({ channel: 'cli', details: { username: 'leaver', role: 'system', sessionsEnded: 1 } });
  });

  it('when the administrator is unknown, then set-role and remove refuse in one line', async () => {
    expect(oneLineError(await run(['admin', 'set-role', 'ghost', 'auditor']))).toBe('pinline: administrator "ghost" not found');
    expect(oneLineError(await run(['admin', 'remove', 'ghost']))).toBe('pinline: administrator "ghost" not found');
  });
});

describe('pinline token', () => {
  it('when a token is created, then it is printed once, works on /api with its role, and only its hash is stored', async () => {
    const created = await run(['token', 'create', 'reporting', '--role', 'auditor']);
    expect(created.code).toBe(0);
    const [said, token] = created.stdout.trimEnd().split('\n');
    expect(said).toBe('Created token reporting (api/auditor). Copy it now: it is shown only this once.');
    expect(token).toMatch(/^pinline_[A-Za-z0-9_-]{43}$/);
    const record = await services.apiTokens.authenticate(token ?? '');
    expect(record?.access).toEqual({ kind: 'api', role: 'auditor' });
    expect(JSON.stringify((await pool.query('SELECT * FROM api_tokens')).rows)).not.toContain(token);
    expect(await lastAudit('api_token.created')).toMatchObject({ channel: 'cli', details: { name: 'reporting', kind: 'api', role: 'auditor' } });
  });

  it('when a token is created without --role, then it is system; with --scim, a SCIM token', async () => {
    const plain = (await run(['token', 'create', 'everything'])).stdout.trimEnd().split('\n')[1] ?? '';
    expect((await services.apiTokens.authenticate(plain))?.access).toEqual({ kind: 'api', role: 'system' });
    const scim = await run(['token', 'create', 'directory', '--scim']);
    expect(scim.stdout).toContain('Created token directory (scim).');
    expect((await services.apiTokens.authenticate(scim.stdout.trimEnd().split('\n')[1] ?? ''))?.access).toEqual({ kind: 'scim' });
  });

  it('when --role and --scim are given together, or the role is unknown, then it refuses in one line and makes nothing', async () => {
    expect(oneLineError(await run(['token', 'create', 'both', '--role', 'helpdesk', '--scim']))).toBe('pinline: give --role or --scim, not both: a SCIM token has no role');
    expect(oneLineError(await run(['token', 'create', 'odd', '--role', 'janitor']))).toMatch(/janitor.*system, helpdesk, auditor/);
    const names = (await services.apiTokens.list()).map((t) => t.name);
    expect(names).not.toContain('both');
    expect(names).not.toContain('odd');
  });

  it('when the tokens are listed, then each shows its access, times and whether revoked, never the token', async () => {
    const created = await run(['token', 'create', 'listed', '--role', 'helpdesk']);
    const token = created.stdout.trimEnd().split('\n')[1] ?? '';
    await services.apiTokens.authenticate(token);
    const listed = await run(['token', 'list']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).not.toContain(token);
    const [header, ...rows] = listed.stdout.trimEnd().split('\n');
    expect(header?.split(/\s{2,}/)).toEqual(['NAME', 'ACCESS', 'CREATED', 'LAST USED', 'REVOKED']);
    const row = rows.find((r) => r.startsWith('listed '))?.split(/\s+/);
    expect(row).toEqual(['listed', 'api/helpdesk', expect.stringMatching(/^\d{4}-/), expect.stringMatching(/^\d{4}-/), 'no']);
  });

  it('when a token is revoked by name, then it stops working, shows as revoked and it is audited; an unknown name refuses in one line', async () => {
    const token = (await run(['token', 'create', 'short-lived'])).stdout.trimEnd().split('\n')[1] ?? '';
    expect(await run(['token', 'revoke', 'short-lived'])).toMatchObject({ code: 0, stdout: 'Revoked token short-lived.\n' });
    expect(await services.apiTokens.authenticate(token)).toBeNull();
    const row = (await run(['token', 'list'])).stdout.split('\n').find((r) => r.startsWith('short-lived '));
    expect(row?.split(/\s+/).at(-1)).toMatch(/^\d{4}-/);
    expect(await lastAudit('api_token.revoked')).toMatchObject({ channel: 'cli', details: { name: 'short-lived' } });
    expect(oneLineError(await run(['token', 'revoke', 'short-lived']))).toBe('pinline: live token "short-lived" not found');
  });
});

describe('pinline user delete', () => {
  it('when a user is deleted, then they are gone and it is audited; an unknown extension refuses in one line', async () => {
    const user = await createUser(services);
    const deleted = await run(['user', 'delete', user.extension]);
    expect(deleted).toMatchObject({ code: 0, stdout: `Deleted user ${user.extension} (Test Person).\n` });
    expect((await pool.query('SELECT 1 FROM users WHERE id = $1', [user.userId])).rowCount).toBe(0);
    expect(await lastAudit('user.deleted')).toMatchObject({ channel: 'cli', actor: 'cli', extension: user.extension });
    expect(oneLineError(await run(['user', 'delete', user.extension]))).toMatch(/^pinline: .*not found$/);
  });
});
