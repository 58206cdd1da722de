import type { Role } from '../accounts/roles.js';
import type { Queryable } from './pool.js';

/** An /api token acts with a role; a SCIM token may only provision users at /scim/v2 (DESIGN §11). */
export type TokenAccess = { kind: 'api'; role: Role } | { kind: 'scim' };

/** A REST API bearer token as stored: its SHA-256, never the token. */
export interface ApiToken {
  id: number;
  name: string;
  createdBy: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  access: TokenAccess;
}

const TOKEN_COLUMNS = 'id, name, created_by, created_at, last_used_at, revoked_at, kind, role';

function tokenFromRow(row: Record<string, unknown>): ApiToken {
  return {
    id: row.id as number,
    name: row.name as string,
    createdBy: row.created_by as string,
    createdAt: row.created_at as Date,
    lastUsedAt: row.last_used_at as Date | null,
    revokedAt: row.revoked_at as Date | null,
    access: row.kind === 'scim' ? { kind: 'scim' } : { kind: 'api', role: row.role as Role },
  };
}

export async function insertApiToken(
  db: Queryable,
  token: { name: string; sha256: Buffer; createdBy: string; access: TokenAccess },
): Promise<ApiToken> {
  const { rows } = await db.query(
    `INSERT INTO api_tokens (name, token_sha256, created_by, kind, role)
     VALUES ($1::text, $2::bytea, $3::text, $4::text, $5::text) RETURNING ${TOKEN_COLUMNS}`,
    [token.name, token.sha256, token.createdBy, token.access.kind, token.access.kind === 'api' ? token.access.role : null],
  );
  return tokenFromRow(rows[0]);
}

/** Live tokens first, then revoked ones, newest first within each. */
export async function listApiTokens(db: Queryable): Promise<ApiToken[]> {
  const { rows } = await db.query(
    `SELECT ${TOKEN_COLUMNS} FROM api_tokens ORDER BY revoked_at IS NOT NULL, created_at DESC, id DESC`,
  );
  return rows.map(tokenFromRow);
}

export async function findLiveApiToken(db: Queryable, sha256: Buffer): Promise<ApiToken | null> {
  const { rows } = await db.query(
    `SELECT ${TOKEN_COLUMNS} FROM api_tokens WHERE token_sha256 = $1::bytea AND revoked_at IS NULL`,
    [sha256],
  );
  return rows[0] ? tokenFromRow(rows[0]) : null;
}

/** Records use at most once a minute, so a busy client does not write on every request. */
export async function touchApiToken(db: Queryable, id: number): Promise<void> {
  await db.query(
    `UPDATE api_tokens SET last_used_at = now()
      WHERE id = $1::bigint AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`,
    [id],
  );
}

/** The token as revoked now, or null when there is no live token with that id. */
export async function revokeApiToken(db: Queryable, id: number): Promise<ApiToken | null> {
  const { rows } = await db.query(
    `UPDATE api_tokens SET revoked_at = now() WHERE id = $1::bigint AND revoked_at IS NULL RETURNING ${TOKEN_COLUMNS}`,
    [id],
  );
  return rows[0] ? tokenFromRow(rows[0]) : null;
}

/** The live token of that name as revoked now (names are unique among live tokens), or null. */
export async function revokeApiTokenByName(db: Queryable, name: string): Promise<ApiToken | null> {
  const { rows } = await db.query(
    `UPDATE api_tokens SET revoked_at = now() WHERE name = $1::text AND revoked_at IS NULL RETURNING ${TOKEN_COLUMNS}`,
    [name],
  );
  return rows[0] ? tokenFromRow(rows[0]) : null;
}
