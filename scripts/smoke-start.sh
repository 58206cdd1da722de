#!/usr/bin/env bash
# The README's quick start, checked: `npm start` with no DATABASE_URL starts on an embedded
# Postgres under DATA_DIR, private (its socket only, passwords in a 0600 file), creates the demo
# user, answers /readyz, takes a simulated call, stops cleanly on SIGTERM, and a second start
# reuses the same data; an up-to-date checkout does not build again.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${DATABASE_URL:-}" ]; then echo "unset DATABASE_URL first"; exit 2; fi
tmp="$(mktemp -d)"
chmod 755 "$tmp" # as root, embedded Postgres runs as the postgres user, which must enter it
export DATA_DIR="$tmp/data"
export PORT="${SMOKE_PORT:-3917}"
log="$(mktemp)"

# `npm start` is `node scripts/build.mjs --if-stale` and then `node dist/main.js`; node runs
# directly, so that the PID to stop is the server's own and no other pinline here is touched.
npm run build >/dev/null 2>&1
built="$(node scripts/build.mjs --if-stale 2>&1)"
[ -z "$built" ] || { echo "$built"; echo "prestart built again an up-to-date checkout"; exit 1; }
server=""

start() {
  node dist/main.js >"$log" 2>&1 &
  server=$!
  for _ in $(seq 1 120); do
    if curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null; then return 0; fi
    if ! kill -0 "$server" 2>/dev/null; then cat "$log"; echo "the server exited"; return 1; fi
    sleep 0.5
  done
  cat "$log"; echo "no /readyz 200 within 60 s"; return 1
}

stop() {
  kill -TERM "$server" 2>/dev/null || true
  for _ in $(seq 1 40); do
    if ! kill -0 "$server" 2>/dev/null; then
      local status=0
      wait "$server" || status=$?
      server=""
      [ "$status" = 0 ] || { cat "$log"; echo "server exited with status $status on SIGTERM"; return 1; }
      return 0
    fi
    sleep 0.5
  done
  echo "server did not stop on SIGTERM"; return 1
}

# Only the server this script started, by its PID.
trap '[ -z "$server" ] || kill -TERM "$server" 2>/dev/null || true' EXIT
if curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null; then echo "port $PORT is already in use"; exit 1; fi

start
# Private: no TCP (postmaster.pid's listen address is empty), passwords in a 0600 file.
[ -z "$(sed -n 6p "$DATA_DIR/pg/postmaster.pid")" ] || { echo "the embedded Postgres listens on TCP"; exit 1; }
[ "$(stat -c %a "$DATA_DIR/pg-credentials.json")" = 600 ] || { echo "pg-credentials.json is not 0600"; exit 1; }
grep -q '"description":"pinline server on PORT '"$PORT"'"' "$DATA_DIR/pg.lock" || { echo "the lock file does not name the server"; exit 1; }
pin="$(grep -o 'initial PIN [0-9]*' "$log" | awk '{print $3}')"
[ -n "$pin" ] || { cat "$log"; echo "no demo user printed"; exit 1; }
transcript="$(npx pinline call --keys 1001# --keys "$pin#" --keys 730496# --keys 730496# --keys '*')"
echo "$transcript"
grep 'account is set up' <<<"$transcript" >/dev/null
stop

start
if grep -q 'Demo user created' "$log"; then echo "second start created the demo user again"; exit 1; fi
transcript="$(npx pinline call --keys 1001# --keys 730496# --keys '*')"
grep 'To change your PIN, press 1' <<<"$transcript" >/dev/null
stop
echo "smoke start: ok (data kept in $DATA_DIR)"
