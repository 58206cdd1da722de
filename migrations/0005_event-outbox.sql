-- Up Migration

-- Events for operators (DESIGN §8): the audit table is the outbox. Each row records the
-- transaction that wrote it, through a DEFAULT, so writing an event costs no extra statement.
-- Ids are handed out at INSERT but rows commit in any order, so the dispatcher cannot follow ids
-- alone: it reads only rows of transactions that have certainly ended
-- (txid < pg_snapshot_xmin(pg_current_snapshot())), in (txid, id) order, after its progress.
--
-- The column is added without a default first, so the table is not rewritten: rows written
-- before this migration keep txid NULL and are never sent (they predate the outbox), and rows
-- written from now on get their transaction's id. The CHECK holds new rows to that without
-- scanning the old ones.
ALTER TABLE audit_events ADD COLUMN txid xid8;
ALTER TABLE audit_events ALTER COLUMN txid SET DEFAULT pg_current_xact_id();
ALTER TABLE audit_events ADD CONSTRAINT audit_events_txid_set CHECK (txid IS NOT NULL) NOT VALID;
CREATE INDEX audit_events_txid_idx ON audit_events (txid, id);

-- The dispatcher's progress: one row, locked FOR UPDATE SKIP LOCKED by the instance that
-- delivers (a transaction-scoped row lock, so it works behind PgBouncer in transaction mode).
-- (last_txid, last_id) is the last event delivered, in (txid, id) order. It starts NULL, for
-- "not started": the first dispatcher to run begins after the last event already written, so
-- turning events on does not replay the history. From then on nothing is skipped: events
-- written while delivery was off are sent when it is back. While the receiver fails, `failures`
-- counts the attempts, `last_error` says why in one line, `failing_since` says since when, and
-- no instance tries again before `retry_at`.
CREATE TABLE event_dispatch (
  id             integer PRIMARY KEY CHECK (id = 1),
  last_txid      xid8,
  last_id        bigint,
  failures       integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
  last_error     text,
  failing_since  timestamptz,
  retry_at       timestamptz,
  updated_at     timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT event_dispatch_position CHECK ((last_txid IS NULL) = (last_id IS NULL))
);

INSERT INTO event_dispatch (id) VALUES (1);

-- Down Migration
DROP TABLE event_dispatch;
DROP INDEX audit_events_txid_idx;
ALTER TABLE audit_events DROP CONSTRAINT audit_events_txid_set;
ALTER TABLE audit_events DROP COLUMN txid;
