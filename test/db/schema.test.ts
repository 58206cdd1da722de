import { readdirSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR, migrate } from '../../src/db/migrate.js';
import { findRuleByName } from '../../src/db/rules.js';
import { RULE_FIELDS } from '../../src/pin/rules.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

let database: TestDatabase;
let client: pg.Client;

beforeAll(async () => {
  database = await createTestDatabase();
  client = new pg.Client({ connectionString: database.url });
  await client.connect();
});
afterAll(async () => {
  await client.end();
  await database.drop();
});

async function schemaFingerprint(): Promise<string> {
  const { rows } = await client.query(`
    SELECT table_name, column_name, data_type, column_default, is_nullable
      FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, column_name`);
  const constraints = await client.query(`
    SELECT conrelid::regclass::text AS t, conname, pg_get_constraintdef(oid) AS def
      FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2`);
  return JSON.stringify([rows, constraints.rows]);
}

describe('migrations', () => {
  it('when migrations run again on a migrated database, then nothing is applied and the schema is unchanged', async () => {
    const before = await schemaFingerprint();
    expect(await migrate(database.url)).toEqual([]);
    expect(await migrate(database.url)).toEqual([]);
    expect(await schemaFingerprint()).toBe(before);
  });

  it('when two instances migrate an empty database at once, then both succeed and each migration runs once', async () => {
    const fresh = await createTestDatabase();
    try {
      const emptyUrl = fresh.url;
      const other = new pg.Client({ connectionString: emptyUrl });
      await other.connect();
      await other.query('DROP SCHEMA public CASCADE; DROP SCHEMA IF EXISTS pgboss CASCADE; CREATE SCHEMA public');
      await other.end();
      const [a, b] = await Promise.all([migrate(emptyUrl), migrate(emptyUrl)]);
      const shipped = readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql')).map((f) => f.replace(/\.sql$/, '')).sort();
      expect([...a, ...b].sort()).toEqual(shipped);
      const check = new pg.Client({ connectionString: emptyUrl });
      await check.connect();
      const { rows } = await check.query("SELECT count(*)::int AS n FROM auth_rules WHERE name = 'default'");
      await check.end();
      expect(rows[0].n).toBe(1);
    } finally {
      await fresh.drop();
    }
  });
});

describe('authentication rules', () => {
  it('when the database is migrated, then the default rule holds the defaults of DESIGN §2', async () => {
    const rule = await findRuleByName(client, 'default');
    expect(rule).toMatchObject({
      maxFailedSignins: 3,
      resetFailedMinutes: 30,
      lockoutMinutes: 30,
      maxFailedPerCall: 3,
      minLength: 6,
      maxLength: 20,
      maxDays: 180,
      warningDays: 15,
      historyCount: 5,
      minChangeMinutes: 1440,
      trivialCheck: true,
    });
  });

  it('when a rule is created from its name alone, then every field equals the defaults table in code', async () => {
    await client.query("INSERT INTO auth_rules (name) VALUES ('from-defaults')");
    const rule = await findRuleByName(client, 'from-defaults');
    for (const field of RULE_FIELDS) expect(rule?.[field.key], field.key).toBe(field.default);
  });

  it.each([
    ['min_length = 0', 'check'],
    ['max_length = 65', 'check'],
    ['min_length = 10, max_length = 8', 'length_order'],
    ['max_failed_signins = -1', 'check'],
    ['history_count = 51', 'check'],
  ])('when a rule is set out of range (%s), then the database refuses it', async (assignment, constraint) => {
    await expect(client.query(`UPDATE auth_rules SET ${assignment} WHERE name = 'default'`)).rejects.toThrow(constraint);
  });
});

describe('users and credentials', () => {
  async function insertUser(extension: string, phone: string | null = null): Promise<number> {
    const { rows } = await client.query(
      `INSERT INTO users (extension, first_name, last_name, phone, rule_id)
       VALUES ($1, 'A', 'B', $2, (SELECT id FROM auth_rules WHERE name = 'default')) RETURNING id`,
      [extension, phone],
    );
    return rows[0].id;
  }

  it('when a PIN credential is not an argon2id hash, then the database refuses it', async () => {
    const id = await insertUser('5101');
    await expect(client.query(`INSERT INTO pin_credentials (user_id, pin_hash) VALUES ($1, '123456')`, [id])).rejects.toThrow(
      /pin_hash/,
    );
    await expect(client.query(`INSERT INTO pin_history (user_id, pin_hash) VALUES ($1, '123456')`, [id])).rejects.toThrow(
      /pin_hash/,
    );
  });

  it.each([['12a4'], ['1'], ['1234567890123456']])('when an extension is malformed (%s), then the database refuses it', async (ext) => {
    await expect(insertUser(ext)).rejects.toThrow(/extension/);
  });

  it.each([['5551230001'], ['+0123'], ['+1 555 123']])('when a phone is not E.164 (%s), then the database refuses it', async (phone) => {
    await expect(insertUser('5201', phone)).rejects.toThrow(/phone/);
  });

  it('when two users share an extension or a phone, then the database refuses the second', async () => {
    await insertUser('5301', '+15550005301');
    await expect(insertUser('5301')).rejects.toThrow(/users_extension_key/);
    await expect(insertUser('5302', '+15550005301')).rejects.toThrow(/users_phone_key/);
  });

  it('when one request writes the same audit event twice, then the database refuses the second', async () => {
    const insert = (key: string) =>
      client.query(
        `INSERT INTO audit_events (event, channel, actor, call_sid, call_turn, request_key)
         VALUES ('signin.failed', 'phone', 'x', 'CA1', 3, decode($1, 'hex'))`,
        [key],
      );
    await insert('aa'.repeat(32));
    await expect(insert('aa'.repeat(32))).rejects.toThrow(/audit_events_request_key/);
  });

  it('when two different requests share a CallSid and turn, then the database keeps both', async () => {
    const insert = (key: string) =>
      client.query(
        `INSERT INTO audit_events (event, channel, actor, call_sid, call_turn, request_key)
         VALUES ('signin.failed', 'phone', 'x', 'CA2', 3, decode($1, 'hex'))`,
        [key],
      );
    await insert('bb'.repeat(32));
    await expect(insert('cc'.repeat(32))).resolves.toBeDefined();
  });
});
