-- Up Migration

-- Authentication rules (DESIGN §2). Defaults are Cisco's "Recommended Voice Mail Authentication Rule".
CREATE TABLE auth_rules (
  id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name                text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$'),
  max_failed_signins  integer NOT NULL DEFAULT 3    CHECK (max_failed_signins BETWEEN 0 AND 1000),
  reset_failed_minutes integer NOT NULL DEFAULT 30  CHECK (reset_failed_minutes BETWEEN 1 AND 120000),
  -- NULL: only an administrator unlocks.
  lockout_minutes     integer          DEFAULT 30   CHECK (lockout_minutes BETWEEN 1 AND 120000),
  max_failed_per_call integer NOT NULL DEFAULT 3    CHECK (max_failed_per_call BETWEEN 1 AND 100),
  min_length          integer NOT NULL DEFAULT 6    CHECK (min_length BETWEEN 1 AND 64),
  max_length          integer NOT NULL DEFAULT 20   CHECK (max_length BETWEEN 1 AND 64),
  max_days            integer NOT NULL DEFAULT 180  CHECK (max_days BETWEEN 0 AND 3650),
  warning_days        integer NOT NULL DEFAULT 15   CHECK (warning_days BETWEEN 0 AND 3650),
  history_count       integer NOT NULL DEFAULT 5    CHECK (history_count BETWEEN 0 AND 50),
  min_change_minutes  integer NOT NULL DEFAULT 1440 CHECK (min_change_minutes BETWEEN 0 AND 5256000),
  trivial_check       boolean NOT NULL DEFAULT true,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT auth_rules_length_order CHECK (min_length <= max_length)
);

INSERT INTO auth_rules (name) VALUES ('default');

CREATE TABLE users (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  extension   text NOT NULL CHECK (extension ~ '^[0-9]{2,15}$'),
  first_name  text NOT NULL CHECK (length(btrim(first_name)) BETWEEN 1 AND 100),
  last_name   text NOT NULL CHECK (length(btrim(last_name)) BETWEEN 1 AND 100),
  -- E.164: '+', country code, up to 15 digits in all.
  phone       text CHECK (phone ~ '^\+[1-9][0-9]{1,14}$'),
  locale      text NOT NULL DEFAULT 'en-US' CHECK (locale ~ '^[a-z]{2}-[A-Z]{2}$'),
  rule_id     bigint NOT NULL REFERENCES auth_rules (id) ON DELETE RESTRICT,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT users_extension_key UNIQUE (extension),
  CONSTRAINT users_phone_key UNIQUE (phone)
);
CREATE INDEX users_rule_id_idx ON users (rule_id);
CREATE INDEX users_name_idx ON users (lower(last_name), lower(first_name));

-- One phone PIN per user: the argon2id hash, its flags and its sign-in status (DESIGN §2).
CREATE TABLE pin_credentials (
  user_id             bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  pin_hash            text NOT NULL CHECK (pin_hash LIKE '$argon2id$%'),
  changed_at          timestamptz NOT NULL DEFAULT now(),
  must_change         boolean NOT NULL DEFAULT false,
  enrollment_pending  boolean NOT NULL DEFAULT true,
  does_not_expire     boolean NOT NULL DEFAULT false,
  locked_by_admin     boolean NOT NULL DEFAULT false,
  cannot_change       boolean NOT NULL DEFAULT false,
  failed_count        integer NOT NULL DEFAULT 0 CHECK (failed_count >= 0),
  last_failed_at      timestamptz,
  -- Set by intruder detection; NULL when not locked out.
  locked_at           timestamptz
);

-- Previous PINs, hashes only, newest first by retired_at.
CREATE TABLE pin_history (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  pin_hash    text NOT NULL CHECK (pin_hash LIKE '$argon2id$%'),
  retired_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pin_history_user_idx ON pin_history (user_id, retired_at DESC);

-- The self-service web password: a separate credential, never synchronised with the PIN.
CREATE TABLE web_passwords (
  user_id        bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  password_hash  text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
  changed_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE admins (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  username       text NOT NULL UNIQUE CHECK (username ~ '^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$'),
  password_hash  text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
  created_at     timestamptz NOT NULL DEFAULT now()
);

-- Security events. Events of a phone turn are keyed by (call_sid, call_turn, event), which is what
-- makes a Twilio retry of that turn apply nothing twice.
CREATE TABLE audit_events (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at          timestamptz NOT NULL DEFAULT now(),
  event       text NOT NULL CHECK (event ~ '^[a-z_]+(\.[a-z_]+)+$'),
  channel     text NOT NULL CHECK (channel IN ('phone', 'web', 'admin', 'api', 'cli', 'system')),
  actor       text NOT NULL,
  user_id     bigint REFERENCES users (id) ON DELETE SET NULL,
  -- Kept as text so the trail survives the user's deletion.
  extension   text,
  details     jsonb NOT NULL DEFAULT '{}'::jsonb,
  call_sid    text,
  call_turn   integer,
  CONSTRAINT audit_events_call_turn_key UNIQUE (call_sid, call_turn, event),
  CONSTRAINT audit_events_call_pair CHECK ((call_sid IS NULL) = (call_turn IS NULL))
);
CREATE INDEX audit_events_at_idx ON audit_events (at DESC);
CREATE INDEX audit_events_user_idx ON audit_events (user_id, at DESC);
CREATE INDEX audit_events_event_idx ON audit_events (event, at DESC);

-- Down Migration
DROP TABLE audit_events;
DROP TABLE admins;
DROP TABLE web_passwords;
DROP TABLE pin_history;
DROP TABLE pin_credentials;
DROP TABLE users;
DROP TABLE auth_rules;
