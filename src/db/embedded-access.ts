import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import type { UserIds } from './embedded-location.js';

/**
 * Who may use the embedded cluster, and how (DESIGN §10, "The embedded database is private"):
 * its Unix socket only, in a directory only its owner enters; a random password for each role,
 * kept in a 0600 file under DATA_DIR; the service as `pinline_app`, which owns everything it uses
 * and is no superuser. The bootstrap superuser keeps the name older clusters gave it.
 */
export const SUPERUSER = 'pinline';
export const APP_ROLE = 'pinline_app';
export const APP_DATABASE = 'pinline';

export interface Credentials {
  readonly superuserPassword: string;
  readonly appPassword: string;
}

/** Where the cluster listens: a directory holding the socket `.s.PGSQL.<port>`. */
export interface SocketAddress {
  readonly socketDir: string;
  readonly port: number;
}

interface CredentialsFile {
  superuser: { user: string; password: string };
  app: { user: string; password: string };
}

const newPassword = () => randomBytes(32).toString('hex');

/** The cluster's passwords, or null when there is no file (a cluster made before it existed, or the file lost). */
export function readCredentials(file: string): Credentials | null {
  if (!existsSync(file)) return null;
  // Kept to its owner whatever happened to it since.
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  let parsed: Partial<CredentialsFile>;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<CredentialsFile>;
  } catch {
    return null;
  }
  const superuserPassword = parsed.superuser?.password;
  const appPassword = parsed.app?.password;
  if (typeof superuserPassword !== 'string' || typeof appPassword !== 'string' || !superuserPassword || !appPassword) return null;
  return { superuserPassword, appPassword };
}

/** New random passwords, saved (mode 0600, whole or not at all) before any role is given them. */
export function createCredentials(file: string): Credentials {
  const credentials = { superuserPassword: newPassword(), appPassword: newPassword() };
  const content: CredentialsFile = {
    superuser: { user: SUPERUSER, password: credentials.superuserPassword },
    app: { user: APP_ROLE, password: credentials.appPassword },
  };
  const aside = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(aside, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
  renameSync(aside, file);
  return credentials;
}

/** node-postgres settings for one role on the socket; no password: peer authentication (maintenance only). */
export function connectionConfig(address: SocketAddress, user: string, password: string | null, database: string): pg.ClientConfig {
  return { host: address.socketDir, port: address.port, user, database, ...(password === null ? {} : { password }) };
}

/** A URL for the socket, in the form node-postgres and libpq both read (`?host=` names the socket's directory). */
export function connectionUrl(address: SocketAddress, user: string, password: string, database: string): string {
  const url = new URL(`postgres://localhost:${address.port}/${database}`);
  url.username = user;
  url.password = password;
  url.searchParams.set('host', address.socketDir);
  return url.toString();
}

/**
 * pg_hba.conf and pg_ident.conf, written at each start: socket connections with a password only.
 * `maintenanceUser`: the OS user running pinline may also come in as the superuser without one
 * (peer authentication, on the 0700 socket), to set passwords that are not known.
 */
export function writeAccessFiles(databaseDir: string, ids: UserIds | null, maintenanceUser: string | null): void {
  const hba = [
    '# Written by pinline at every start of the embedded Postgres: no TCP (listen_addresses is empty),',
    '# only its Unix socket, in a directory only the cluster\'s owner can enter, and a password for every role.',
    ...(maintenanceUser === null ? [] : [`local all ${SUPERUSER} peer map=pinline`]),
    'local all all scram-sha-256',
  ];
  const ident = ['# Written by pinline: empty, except while it sets passwords it does not know.', ...(maintenanceUser === null ? [] : [`pinline ${maintenanceUser} ${SUPERUSER}`])];
  for (const [name, lines] of [
    ['pg_hba.conf', hba],
    ['pg_ident.conf', ident],
  ] as const) {
    const file = path.join(databaseDir, name);
    const aside = `${file}.pinline-${randomBytes(4).toString('hex')}`;
    writeFileSync(aside, `${lines.join('\n')}\n`, { mode: 0o600 });
    if (ids) chownSync(aside, ids.uid, ids.gid);
    renameSync(aside, file);
  }
}

/**
 * The roles as the credentials say, on a connection as the superuser: `pinline_app` exists, logs in
 * with its password, holds no special attribute or role, and owns the service's database. Never
 * logs a statement, which carries a password.
 */
export async function ensureRoles(superuser: pg.Client, credentials: Credentials, options: { setSuperuserPassword: boolean }): Promise<void> {
  await superuser.query("SET log_statement = 'none'; SET log_min_error_statement = 'panic'");
  // Passwords are hex, so they need no quoting; ALTER ROLE takes no bind parameters.
  if (options.setSuperuserPassword) await superuser.query(`ALTER ROLE ${SUPERUSER} PASSWORD '${credentials.superuserPassword}'`);
  await superuser.query(`DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${APP_ROLE}') THEN CREATE ROLE ${APP_ROLE}; END IF;
  END $$`);
  await superuser.query(
    `ALTER ROLE ${APP_ROLE} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD '${credentials.appPassword}'`,
  );
  // No predefined role either (pg_execute_server_program would run programs as the cluster's user).
  const { rows: memberships } = await superuser.query<{ role: string }>(
    `SELECT roleid::regrole::text AS role FROM pg_auth_members WHERE member = '${APP_ROLE}'::regrole`,
  );
  for (const { role } of memberships) await superuser.query(`REVOKE ${role} FROM ${APP_ROLE}`);
  const { rowCount } = await superuser.query('SELECT 1 FROM pg_database WHERE datname = $1::text', [APP_DATABASE]);
  if (rowCount === 0) await superuser.query(`CREATE DATABASE ${APP_DATABASE} OWNER ${APP_ROLE}`);
  else await superuser.query(`ALTER DATABASE ${APP_DATABASE} OWNER TO ${APP_ROLE}`);
}

/**
 * Gives `pinline_app` every object the superuser owns in the service's database (run there, as
 * the superuser): what a cluster made before `pinline_app` existed holds, pg-boss's schema included.
 * REASSIGN OWNED cannot do it: the bootstrap superuser also owns the system catalogs.
 */
export async function giveObjectsToApp(superuserOnAppDatabase: pg.Client): Promise<void> {
  await superuserOnAppDatabase.query(`DO $$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT n.nspname FROM pg_namespace n
            WHERE n.nspowner = 10 AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' LOOP
    EXECUTE format('ALTER SCHEMA %I OWNER TO ${APP_ROLE}', r.nspname);
  END LOOP;
  -- Tables first: their sequences (serial, identity), indexes and row types follow them.
  FOR r IN SELECT c.oid::regclass AS name, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relowner = 10 AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S', 'c')
              AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
              AND NOT (c.relkind = 'S' AND EXISTS (
                SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                   AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')))
            ORDER BY c.relkind = 'S' LOOP
    EXECUTE format('ALTER %s %s OWNER TO ${APP_ROLE}',
      CASE r.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE'
                     WHEN 'S' THEN 'SEQUENCE' WHEN 'c' THEN 'TYPE' ELSE 'TABLE' END, r.name);
  END LOOP;
  -- Enums, domains and ranges (a table's row type and an array type follow their owner).
  FOR r IN SELECT t.oid::regtype AS name, t.typtype FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
            WHERE t.typowner = 10 AND t.typtype IN ('e', 'd', 'r')
              AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' LOOP
    EXECUTE format('ALTER %s %s OWNER TO ${APP_ROLE}', CASE r.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, r.name);
  END LOOP;
  FOR r IN SELECT p.oid::regprocedure AS name FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE p.proowner = 10 AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' LOOP
    EXECUTE format('ALTER ROUTINE %s OWNER TO ${APP_ROLE}', r.name);
  END LOOP;
END $$`);
}
