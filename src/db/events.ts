import { AUDIT_RECORD_COLUMNS, auditRecordFromRow, type AuditRecord } from './audit.js';
import type { Queryable } from './pool.js';

/**
 * The event outbox (DESIGN §8): the audit table, followed in (txid, id) order, where txid is the
 * 64-bit id of the transaction that wrote the row (migrations/0005_event-outbox.sql).
 *
 * Rows get their id at INSERT but commit in any order, so "every id after the last one sent"
 * would miss a row whose transaction commits after a later id was sent. Instead only rows of
 * transactions that have certainly ended are read: txid below the xmin of the statement's own
 * snapshot, the oldest transaction still running. Any row that can still appear belongs to a
 * transaction at or above that xmin, so it sorts after everything read so far, and nothing is
 * skipped. The cost: while one writing transaction stays open, later events wait for it, and
 * that counts transactions of every database on the server (the xmin is the server's).
 */
const FINISHED = 'txid < pg_snapshot_xmin(pg_current_snapshot())';

/** A position in the outbox: the last event delivered. */
export interface OutboxPosition {
  /** xid8 as text: it does not fit a JS number. */
  txid: string;
  id: number;
}

/** An audit row as the outbox hands it out: the row, and where it stands in commit order. */
export interface OutboxEvent extends AuditRecord {
  position: OutboxPosition;
}

export interface DispatchState {
  /** null: no dispatcher has started yet. */
  position: OutboxPosition | null;
  failures: number;
  lastError: string | null;
  failingSince: Date | null;
  retryAt: Date | null;
  updatedAt: Date;
}

function position(txid: string | null, id: number | null): OutboxPosition | null {
  return txid === null || id === null ? null : { txid, id };
}

/**
 * One statement, no transaction (so no transaction id is spent on an idle poll): whether a pass
 * would find work now, that is an event to send that is due, or a dispatcher that never started.
 */
export async function outboxHasWork(db: Queryable): Promise<boolean> {
  // A scalar subquery with ORDER BY … LIMIT 1 walks the (txid, id) index from the position
  // (an EXISTS would drop the ORDER BY, and could choose to scan the whole table).
  const { rows } = await db.query(
    `SELECT d.last_txid IS NULL OR (
              SELECT a.id FROM audit_events a
               WHERE (a.txid, a.id) > (d.last_txid, d.last_id) AND a.${FINISHED}
               ORDER BY a.txid, a.id LIMIT 1) IS NOT NULL AS work
       FROM event_dispatch d
      WHERE d.id = 1 AND (d.retry_at IS NULL OR d.retry_at <= clock_timestamp())`,
  );
  return rows[0]?.work === true;
}

/**
 * Locks the progress row for this transaction, or returns 'busy' when another instance holds it
 * (SKIP LOCKED: it is delivering) and 'waiting' when the receiver is in back-off. The lock is a
 * row lock, released at COMMIT or ROLLBACK: no session state, so PgBouncer in transaction mode is
 * fine, and a dispatcher that dies releases it with its connection.
 */
export async function lockDispatch(
  db: Queryable,
): Promise<{ state: 'ready'; position: OutboxPosition | null; failures: number } | { state: 'busy' | 'waiting' }> {
  const { rows } = await db.query(
    `SELECT last_txid::text AS last_txid, last_id, failures,
            (retry_at IS NULL OR retry_at <= clock_timestamp()) AS due
       FROM event_dispatch WHERE id = 1 FOR UPDATE SKIP LOCKED`,
  );
  const row = rows[0];
  if (!row) return { state: 'busy' };
  if (row.due !== true) return { state: 'waiting' };
  return { state: 'ready', position: position(row.last_txid, row.last_id), failures: row.failures };
}

/**
 * The first start: everything already written counts as sent, so delivery begins with the
 * events written from now on. The start is the last event of a finished transaction; events of
 * transactions still running sort after it and will be sent.
 */
export async function startDispatchAtEnd(db: Queryable): Promise<OutboxPosition> {
  const { rows } = await db.query(
    `WITH last_finished AS (
       SELECT txid, id FROM audit_events WHERE ${FINISHED} ORDER BY txid DESC, id DESC LIMIT 1
     )
     UPDATE event_dispatch
        SET last_txid = coalesce((SELECT txid FROM last_finished), '0'),
            last_id = coalesce((SELECT id FROM last_finished), 0),
            updated_at = clock_timestamp()
      WHERE id = 1
     RETURNING last_txid::text AS last_txid, last_id`,
  );
  return { txid: rows[0].last_txid, id: rows[0].last_id };
}

/** The next events after `after`, of finished transactions only, in (txid, id) order. */
export async function readOutbox(db: Queryable, after: OutboxPosition, limit: number): Promise<OutboxEvent[]> {
  const { rows } = await db.query(
    // Ordered by the xid8 column itself (an alias `txid` for the text would sort '10' before '9').
    `SELECT a.txid::text AS txid_text, ${AUDIT_RECORD_COLUMNS}
       FROM audit_events a
      WHERE (a.txid, a.id) > ($1::xid8, $2::bigint)
        AND a.${FINISHED}
      ORDER BY a.txid, a.id
      LIMIT $3::int`,
    [after.txid, after.id, limit],
  );
  return rows.map((r) => ({ position: { txid: r.txid_text, id: r.id }, ...auditRecordFromRow(r) }));
}

/**
 * Records a pass, in the transaction holding the lock: the last event delivered, and either the
 * end of any failure, or one more failure with its one-line reason and when to try again.
 */
export async function saveDispatch(
  db: Queryable,
  delivered: OutboxPosition,
  failure: { error: string; retryInMs: number } | null,
): Promise<void> {
  await db.query(
    `UPDATE event_dispatch
        SET last_txid = $1::xid8,
            last_id = $2::bigint,
            failures = CASE WHEN $3::text IS NULL THEN 0 ELSE failures + 1 END,
            last_error = $3::text,
            failing_since = CASE WHEN $3::text IS NULL THEN NULL ELSE coalesce(failing_since, clock_timestamp()) END,
            retry_at = CASE WHEN $3::text IS NULL THEN NULL
                            ELSE clock_timestamp() + make_interval(secs => $4::double precision / 1000) END,
            updated_at = clock_timestamp()
      WHERE id = 1`,
    [delivered.txid, delivered.id, failure?.error ?? null, failure?.retryInMs ?? 0],
  );
}

/** The progress row as it stands, for operators and tests. */
export async function readDispatchState(db: Queryable): Promise<DispatchState> {
  const { rows } = await db.query(
    `SELECT last_txid::text AS last_txid, last_id, failures, last_error, failing_since, retry_at, updated_at
       FROM event_dispatch WHERE id = 1`,
  );
  const r = rows[0];
  return {
    position: position(r.last_txid, r.last_id),
    failures: r.failures,
    lastError: r.last_error,
    failingSince: r.failing_since,
    retryAt: r.retry_at,
    updatedAt: r.updated_at,
  };
}
