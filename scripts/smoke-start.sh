#!/usr/bin/env bash
# The README's quick start, checked: `npm start` with no DATABASE_URL starts on an embedded
# Postgres under DATA_DIR, creates the demo user, answers /readyz, takes a simulated call, stops
# cleanly on SIGTERM, and a second start reuses the same data.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${DATABASE_URL:-}" ]; then echo "unset DATABASE_URL first"; exit 2; fi
tmp="$(mktemp -d)"
chmod 755 "$tmp" # as root, embedded Postgres runs as the postgres user, which must enter it
export DATA_DIR="$tmp/data"
export PORT="${SMOKE_PORT:-3917}"
log="$(mktemp)"

start() {
  npm start >"$log" 2>&1 &
  server=$!
  for _ in $(seq 1 120); do
    if curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null; then return 0; fi
    if ! kill -0 "$server" 2>/dev/null; then cat "$log"; echo "npm start exited"; return 1; fi
    sleep 0.5
  done
  cat "$log"; echo "no /readyz 200 within 60 s"; return 1
}

stop() {
  # npm start runs node as a child; signal the whole process group's node.
  pkill -TERM -f "node dist/main.js" || true
  for _ in $(seq 1 40); do kill -0 "$server" 2>/dev/null || return 0; sleep 0.5; done
  echo "server did not stop on SIGTERM"; return 1
}

trap 'pkill -TERM -f "node dist/main.js" || true' EXIT
if curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null; then echo "port $PORT is already in use"; exit 1; fi

start
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
