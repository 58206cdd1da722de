import type { Actor, Channel } from '../audit/actor.js';
import type { AuditEventName } from '../audit/events.js';
import type { Queryable } from './pool.js';

/**
 * One webhook request of a call. `requestKey` is a keyed fingerprint of the request itself (the
 * sealed state it answers and the keys pressed): events carrying it are written once per request,
 * so a Twilio retry applies nothing twice, while another request with the same CallSid and turn
 * (a second branch of one sealed state, a reused CallSid) is a request of its own.
 */
export interface CallTurn {
  callSid: string;
  turn: number;
  requestKey: Buffer;
}

export interface AuditInput {
  event: AuditEventName;
  actor: Actor;
  userId?: number | null;
  extension?: string | null;
  details?: Record<string, unknown>;
  call?: CallTurn | null;
  /** The user's credential version after this request's effects: what a retry's answer stands for. */
  credentialVersion?: number | null;
}

/** An audit row as read back. */
export interface AuditRecord {
  id: number;
  at: Date;
  event: string;
  channel: Channel;
  actor: string;
  userId: number | null;
  extension: string | null;
  details: Record<string, unknown>;
  callSid: string | null;
}

export async function recordAudit(db: Queryable, input: AuditInput): Promise<void> {
  const insert = auditInsert(input, 1);
  await db.query(insert.text, insert.values);
}

/**
 * The audit row's INSERT with its parameters numbered from `first`, so that a change and its
 * audit row can go to Postgres as one statement (a data-modifying WITH before it).
 */
export function auditInsert(input: AuditInput, first: number): { text: string; values: unknown[] } {
  const p = (i: number) => `$${first + i}`;
  return {
    text: `INSERT INTO audit_events (event, channel, actor, user_id, extension, details, call_sid, call_turn, request_key, credential_version)
     VALUES (${p(0)}::text, ${p(1)}::text, ${p(2)}::text, ${p(3)}::bigint, ${p(4)}::text, ${p(5)}::jsonb, ${p(6)}::text, ${p(7)}::int, ${p(8)}::bytea, ${p(9)}::int)`,
    values: [
      input.event,
      input.actor.channel,
      input.actor.name,
      input.userId ?? null,
      input.extension ?? null,
      JSON.stringify(input.details ?? {}),
      input.call?.callSid ?? null,
      input.call?.turn ?? null,
      input.call?.requestKey ?? null,
      input.credentialVersion ?? null,
    ],
  };
}

/** An event a request wrote, with the user and credential version it stood for (both null: an unknown ID). */
export interface RecordedEvent {
  event: string;
  userId: number | null;
  credentialVersion: number | null;
}

/**
 * Waits until no other transaction works on the same request, then returns the events it already
 * wrote: a non-empty answer means this delivery is a retry. The lock is transaction-scoped (it
 * works behind PgBouncer in transaction mode) and keyed by the fingerprint's first 8 bytes.
 */
export async function lockRequest(db: Queryable, call: CallTurn): Promise<RecordedEvent[]> {
  await db.query('SELECT pg_advisory_xact_lock($1::bigint)', [call.requestKey.readBigInt64BE(0).toString()]);
  return recordedEvents(db, call.requestKey);
}

/** The events written under a request key, without a lock: for a key derived from one already locked. */
export async function recordedEvents(db: Queryable, requestKey: Buffer): Promise<RecordedEvent[]> {
  const { rows } = await db.query('SELECT event, user_id, credential_version FROM audit_events WHERE request_key = $1::bytea ORDER BY id', [
    requestKey,
  ]);
  return rows.map((r) => ({ event: r.event as string, userId: r.user_id as number | null, credentialVersion: r.credential_version as number | null }));
}

export interface AuditFilter {
  userId?: number;
  extension?: string;
  /** An event name, or a prefix like 'pin' for every 'pin.*' event. */
  event?: string;
  limit?: number;
  offset?: number;
}

/** The columns of an audit row as read back, for `a` the audit_events table. */
export const AUDIT_RECORD_COLUMNS = 'a.id, a.at, a.event, a.channel, a.actor, a.user_id, a.extension, a.details, a.call_sid';

export function auditRecordFromRow(r: Record<string, unknown>): AuditRecord {
  return {
    id: r.id as number,
    at: r.at as Date,
    event: r.event as string,
    channel: r.channel as Channel,
    actor: r.actor as string,
    userId: r.user_id as number | null,
    extension: r.extension as string | null,
    details: r.details as Record<string, unknown>,
    callSid: r.call_sid as string | null,
  };
}

export async function listAudit(db: Queryable, filter: AuditFilter = {}): Promise<AuditRecord[]> {
  const { rows } = await db.query(
    `SELECT ${AUDIT_RECORD_COLUMNS}
       FROM audit_events a
      WHERE ($1::bigint IS NULL OR a.user_id = $1::bigint)
        AND ($2::text IS NULL OR a.extension = $2::text)
        AND ($3::text IS NULL OR a.event = $3::text OR a.event LIKE $3::text || '.%')
      ORDER BY a.at DESC, a.id DESC
      LIMIT $4::int OFFSET $5::int`,
    [filter.userId ?? null, filter.extension ?? null, filter.event ?? null, filter.limit ?? 100, filter.offset ?? 0],
  );
  return rows.map(auditRecordFromRow);
}
