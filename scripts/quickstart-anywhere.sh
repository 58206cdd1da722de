#!/usr/bin/env bash
# DESIGN §10, checked: as root, `npm ci && npm start` in a checkout inside a directory that other
# users cannot enter (a `mktemp -d`, mode 0700) starts on the embedded Postgres all the same: the
# cluster lives where the postgres user can reach it, the start names that place, the demo user is
# created, another account (nobody) cannot connect to it, the CLI attaches to the running cluster,
# and a second start finds the same cluster.
#
#   bash scripts/quickstart-anywhere.sh           the working tree's files (git ls-files -co --exclude-standard),
#                                                 so uncommitted changes are checked too
#   bash scripts/quickstart-anywhere.sh --clone   a `git clone` of the committed HEAD
#
# It stops only the processes it started (by PID) and removes everything it created, including
# the fallback cluster under /var/lib/pinline and a binaries copy there that did not exist before.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
mode=copy
case "${1:-}" in
  '') ;;
  --clone) mode=clone ;;
  *) echo "usage: $0 [--clone]" >&2; exit 2 ;;
esac

fail() {
  echo "quickstart-anywhere: FAILED: $*" >&2
  exit 1
}
[ "$(id -u)" = 0 ] || fail "must run as root (the case it checks: Postgres then runs as the postgres user)"
command -v curl >/dev/null || fail "curl is needed"

FALLBACK_ROOT=/var/lib/pinline
work="$(mktemp -d)"
chmod 700 "$work"
checkout="$work/pinline"
log="$work/server.log"
server=""
cluster=""
# What /var/lib/pinline held before, so that cleanup removes only what this run added.
had_root=no
[ -d "$FALLBACK_ROOT" ] && had_root=yes
had_clusters=no
[ -d "$FALLBACK_ROOT/clusters" ] && had_clusters=yes
binaries_before="$(ls -d "$FALLBACK_ROOT"/postgres-* 2>/dev/null || true)"

stop_server() {
  [ -n "$server" ] || return 0
  if kill -0 "$server" 2>/dev/null; then
    kill -TERM "$server"
    for _ in $(seq 1 60); do kill -0 "$server" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$server" 2>/dev/null; then
      echo "server $server did not stop on SIGTERM; killing it" >&2
      kill -KILL "$server" 2>/dev/null || true
    fi
  fi
  local status=0
  wait "$server" 2>/dev/null || status=$?
  server=""
  return "$status"
}

cleanup() {
  local status=$?
  stop_server || true
  # A postmaster this run's server left behind (it was killed): stop it before removing its files.
  for dir in "$cluster" "$checkout/data/pg"; do
    if [ -n "$dir" ] && [ -f "$dir/postmaster.pid" ]; then
      pid="$(head -n 1 "$dir/postmaster.pid")"
      kill -INT "$pid" 2>/dev/null || true
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    fi
  done
  # The fallback cluster is this run's own: its name derives from the mktemp path above.
  case "$cluster" in
    "$FALLBACK_ROOT"/clusters/*/pg) rm -rf "$(dirname "$cluster")" ;;
  esac
  for copy in "$FALLBACK_ROOT"/postgres-*; do
    [ -d "$copy" ] || continue
    grep -qxF "$copy" <<<"$binaries_before" || rm -rf "$copy"
  done
  [ "$had_clusters" = yes ] || rmdir "$FALLBACK_ROOT/clusters" 2>/dev/null || true
  [ "$had_root" = yes ] || rmdir "$FALLBACK_ROOT" 2>/dev/null || true
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "--- checkout in $work (mode $(stat -c %a "$work"))"
if [ "$mode" = clone ]; then
  git clone --quiet "$repo" "$checkout"
else
  mkdir "$checkout"
  # Tracked and untracked-but-not-ignored files, as they are now; a tracked file deleted meanwhile is skipped.
  (cd "$repo" && git ls-files -co --exclude-standard -z | tar --null -T - --ignore-failed-read -cf - 2>/dev/null) | tar -C "$checkout" -xf -
fi
[ -f "$checkout/package-lock.json" ] || fail "the checkout has no package-lock.json"

echo "--- npm ci"
(cd "$checkout" && npm ci --no-audit --no-fund) || fail "npm ci failed"
[ -e "$checkout/dist/main.js" ] || fail "npm ci did not build dist/ (prepare)"

port="$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"

# `npm start` is `node scripts/build.mjs --if-stale` (nothing to do after npm ci built it) and then
# this; node runs directly so that its PID is ours to stop.
start() {
  (cd "$checkout" && exec env -u DATABASE_URL -u DATA_DIR -u NODE_ENV -u LOG_LEVEL PORT="$port" node dist/main.js) >"$log" 2>&1 &
  server=$!
  for _ in $(seq 1 240); do
    if curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$server" 2>/dev/null; then
      cat "$log"
      server=""
      fail "the server exited before /readyz answered"
    fi
    sleep 0.5
  done
  cat "$log"
  fail "no /readyz 200 within 120 s"
}

# The cluster directory that the start named (pino's JSON line carries it as databaseDir).
named_cluster() {
  grep -o '"databaseDir":"[^"]*"' "$log" | head -n 1 | cut -d '"' -f 4
}

echo "--- first start (port $port)"
start
grep -q 'Demo user created' "$log" || { cat "$log"; fail "the first start did not create the demo user"; }
cluster="$(named_cluster)"
[ -n "$cluster" ] || { cat "$log"; fail "the start did not name where the cluster lives"; }
echo "the start named the cluster: $cluster"
grep -E 'embedded Postgres cluster in|runs a copy in' "$log" || true
case "$cluster" in
  "$work"/*) fail "the cluster is inside the 0700 directory, where the postgres user cannot reach it" ;;
esac
[ "$(stat -c '%U %a' "$cluster")" = "postgres 700" ] || fail "$cluster is $(stat -c '%U %a' "$cluster"), not postgres 700"
# Private: its socket only (where postmaster.pid says), which the OS user nobody cannot reach, even
# with the password pinline once wrote in its source.
[ -z "$(sed -n 6p "$cluster/postmaster.pid")" ] || fail "the embedded Postgres listens on TCP"
if command -v runuser >/dev/null && command -v psql >/dev/null; then
  conninfo="host=$(sed -n 5p "$cluster/postmaster.pid") port=$(sed -n 4p "$cluster/postmaster.pid") user=pinline dbname=pinline"
  if (cd / && runuser -u nobody -- env PGPASSWORD=pinline PGCONNECT_TIMEOUT=5 psql -w -X -c 'SELECT 1' "$conninfo") >"$work/nobody.out" 2>&1; then
    fail "the OS user nobody connected to the embedded Postgres"
  fi
  grep -q 'Permission denied' "$work/nobody.out" || { cat "$work/nobody.out"; fail "nobody was refused otherwise than at the socket's directory"; }
else
  echo "runuser or psql missing: the check as the OS user nobody is skipped"
fi
shown="$(cd "$checkout" && env -u DATABASE_URL -u DATA_DIR -u NODE_ENV -u LOG_LEVEL node bin/pinline.js user show 1001 2>&1)" ||
  { echo "$shown"; fail "the CLI could not attach to the running cluster"; }
grep -q '1001' <<<"$shown" || { echo "$shown"; fail "the CLI did not show the demo user"; }
stop_server || fail "the server did not exit cleanly on SIGTERM"
[ ! -e "$cluster/postmaster.pid" ] || fail "Postgres still runs on $cluster after the server stopped"

echo "--- second start"
start
if grep -q 'Demo user created' "$log"; then cat "$log"; fail "the second start created the demo user again (a new cluster?)"; fi
if grep -q 'creating embedded Postgres cluster' "$log"; then cat "$log"; fail "the second start created a new cluster"; fi
[ "$(named_cluster)" = "$cluster" ] || { cat "$log"; fail "the second start named $(named_cluster), not $cluster"; }
stop_server || fail "the server did not exit cleanly on SIGTERM"

echo "quickstart-anywhere: ok (checkout in a 0700 directory; cluster in $cluster, named at start and found again)"
