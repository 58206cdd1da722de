-- Up Migration

-- Sign-in and API rate-limit counters, shared by every instance (DESIGN §10): a key (limit and
-- client address, or user) has its hits in the current window, which ends at reset_at.
CREATE TABLE rate_limit_counters (
  key       text PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 200),
  hits      integer NOT NULL CHECK (hits >= 0),
  reset_at  timestamptz NOT NULL
);
CREATE INDEX rate_limit_counters_reset_idx ON rate_limit_counters (reset_at);

-- Down Migration
DROP TABLE rate_limit_counters;
