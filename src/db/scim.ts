import type { Queryable } from './pool.js';

// What SCIM keeps beside a user (DESIGN §11): the identity provider's externalId, and the time
// the user was last changed (meta.lastModified); and SCIM's list, a page of user ids.

/** The attributes SCIM can filter a list on with `eq`, and their columns. */
export type ScimFilterAttribute = 'userName' | 'externalId' | 'id';

const FILTER_COLUMNS: Record<ScimFilterAttribute, string> = {
  userName: 'u.extension = $1::text',
  externalId: 'u.scim_external_id = $1::text',
  id: 'u.id = $1::bigint',
};

export interface ScimExtras {
  externalId: string | null;
  lastModified: Date;
}

function extrasFromRow(row: Record<string, unknown>): ScimExtras {
  return { externalId: row.scim_external_id as string | null, lastModified: row.updated_at as Date };
}

/** Keeps the externalId as sent (null clears it), and marks the user changed now. */
export async function writeScimExtras(db: Queryable, userId: number, externalId: string | null): Promise<void> {
  await db.query('UPDATE users SET scim_external_id = $2::text, updated_at = now() WHERE id = $1::bigint', [userId, externalId]);
}

export async function findScimExtras(db: Queryable, userId: number): Promise<ScimExtras | null> {
  const { rows } = await db.query('SELECT scim_external_id, updated_at FROM users WHERE id = $1::bigint', [userId]);
  return rows[0] ? extrasFromRow(rows[0]) : null;
}

/**
 * One page of users, by id, that match `filter` (every user without one), with the count of all
 * that match. `offset` counts from 0 (SCIM's startIndex less one).
 */
export async function scimPage(
  db: Queryable,
  filter: { attribute: ScimFilterAttribute; value: string } | null,
  offset: number,
  limit: number,
): Promise<{ total: number; entries: Array<ScimExtras & { userId: number }> }> {
  const where = filter ? FILTER_COLUMNS[filter.attribute] : 'true';
  const first = filter ? 2 : 1;
  const values = filter ? [filter.value] : [];
  const [page, count] = await Promise.all([
    db.query(
      `SELECT u.id, u.scim_external_id, u.updated_at FROM users u WHERE ${where} ORDER BY u.id LIMIT $${first}::int OFFSET $${first + 1}::int`,
      [...values, limit, offset],
    ),
    db.query(`SELECT count(*)::int AS total FROM users u WHERE ${where}`, values),
  ]);
  return {
    total: count.rows[0].total as number,
    entries: page.rows.map((row) => ({ userId: Number(row.id), ...extrasFromRow(row) })),
  };
}
