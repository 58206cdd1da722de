#!/usr/bin/env bash
# The container image runs (DESIGN §10), checked as an operator would: build it, run it with
# production secrets against Postgres as compose.yaml wires it (queries through PgBouncer in
# transaction mode, migrations straight to Postgres), wait for /readyz and for its HEALTHCHECK to
# say healthy, add a user with `docker exec … pinline`, place a call that signs in with the
# simulator, and have promtool check its /metrics. Then `docker-compose config` checks compose.yaml.
#
# Usage: scripts/image-check.sh [DOCKERFILE]     (default: ./Dockerfile)
# Needs root (it installs docker.io, debootstrap, docker-compose and pgbouncer when missing) and
# Postgres at 127.0.0.1:5432 with trust auth (CI's). Starts dockerd when none answers and stops that one, by
# its PID, at the end. No registry image can be pulled here, so the Dockerfile's node base is
# built by scripts/image-base.sh under the same tag. Containers use the host's network: the only
# traffic is on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
# Without buildx (Debian's docker.io has none) the classic builder builds; it needs no registry.
export DOCKER_BUILDKIT=0

dockerfile="${1:-Dockerfile}"
image=pinline:image-check
name="pinline-image-check-$$"
database="pinline_image_check_$$"
logs=/var/log/pinline-ci
mkdir -p "$logs"
dockerd_pid=""
pgbouncer_pid=""
work="$(mktemp -d)"
chmod 755 "$work" # PgBouncer runs as the postgres user and reads its configuration here
container=""
db_created=""

now_ms() { date +%s%3N; }
elapsed() { echo "$(( ($(now_ms) - $1) / 100 ))" | sed -E 's/(.)$/.\1/; s/^\./0./'; }

cleanup() {
  local status=$?
  if [ -n "$container" ]; then
    if [ "$status" != 0 ]; then echo "--- container log"; docker logs "$container" 2>&1 | tail -n 40 || true; fi
    docker rm -f "$container" >/dev/null 2>&1 || true
  fi
  if [ -n "$pgbouncer_pid" ]; then kill -TERM "$pgbouncer_pid" 2>/dev/null || true; fi
  if [ -n "$db_created" ]; then psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $database WITH (FORCE)" postgres >/dev/null || true; fi
  # Only the dockerd this script started, by its PID.
  if [ -n "$dockerd_pid" ]; then
    kill -TERM "$dockerd_pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.5; done
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

install_missing() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v docker-compose >/dev/null || missing+=(docker-compose)
  [ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
  [ ${#missing[@]} = 0 ] && return 0
  echo "image-check: apt-get install ${missing[*]}"
  for attempt in 1 2 3; do
    if apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then return 0; fi
    echo "apt-get failed (attempt $attempt)"; sleep 10
  done
  return 1
}

install_missing
if ! docker info >/dev/null 2>&1; then
  # No bridge and no iptables rules: every container here runs with --network host.
  dockerd --bridge=none --iptables=false --ip6tables=false >"$logs/dockerd.log" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { tail -n 20 "$logs/dockerd.log"; echo "image-check: dockerd did not start"; exit 1; }
  echo "image-check: started dockerd (PID $dockerd_pid, log $logs/dockerd.log)"
fi

started="$(now_ms)"
for base in $(awk 'toupper($1) == "FROM" { print $2 }' "$dockerfile" | sort -u); do
  bash scripts/image-base.sh "$base"
done
echo "image-check: base ready in $(elapsed "$started") s"

started="$(now_ms)"
docker build --network host -f "$dockerfile" -t "$image" . >"$logs/image-build.log" 2>&1 ||
  { tail -n 30 "$logs/image-build.log"; echo "image-check: docker build failed"; exit 1; }
size_mb="$(( $(docker image inspect --format '{{.Size}}' "$image") / 1000000 ))"
echo "image-check: built $image in $(elapsed "$started") s, $size_mb MB"
# Earlier builds' layers, no longer tagged, are dropped; the current ones stay as the build cache.
docker image prune -f >/dev/null

psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $database" postgres
db_created=1
free_port() { node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'; }

# PgBouncer as compose.yaml configures it: transaction pooling, a lost server login retried after 1 s.
pgbouncer_port="$(free_port)"
cat >"$work/pgbouncer.ini" <<EOF
[databases]
* = host=127.0.0.1 port=5432 user=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $pgbouncer_port
unix_socket_dir =
auth_type = any
pool_mode = transaction
server_login_retry = 1
EOF
chmod 644 "$work/pgbouncer.ini"
/usr/sbin/pgbouncer -u postgres "$work/pgbouncer.ini" >"$logs/image-check-pgbouncer.log" 2>&1 &
pgbouncer_pid=$!
until psql -h 127.0.0.1 -p "$pgbouncer_port" -U postgres -qAtc 'SELECT 1' "$database" >/dev/null 2>&1; do
  kill -0 "$pgbouncer_pid" 2>/dev/null || { cat "$logs/image-check-pgbouncer.log"; echo "image-check: PgBouncer exited"; exit 1; }
  sleep 0.2
done

port="$(free_port)"
secret() { node -p "require('crypto').randomBytes($1).toString('hex')"; }
env_file="$work/pinline.env"
install -m 600 /dev/null "$env_file"
cat >"$env_file" <<EOF
NODE_ENV=production
PORT=$port
DATABASE_URL=postgres://postgres@127.0.0.1:$pgbouncer_port/$database
MIGRATIONS_DATABASE_URL=postgres://postgres@127.0.0.1:5432/$database
PUBLIC_BASE_URL=http://127.0.0.1:$port
TWILIO_AUTH_TOKEN=$(secret 16)
PIN_PEPPER=$(secret 32)
SESSION_SECRET=$(secret 32)
METRICS_TOKEN=$(secret 16)
EOF

container="$(docker run -d --name "$name" --network host --env-file "$env_file" "$image")"
started="$(date -d "$(docker inspect --format '{{.State.StartedAt}}' "$container")" +%s%3N)"
until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do
  if [ "$(docker inspect --format '{{.State.Running}}' "$container")" != true ]; then
    echo "image-check: the container exited with status $(docker inspect --format '{{.State.ExitCode}}' "$container") before /readyz answered"
    exit 1
  fi
  [ $(( $(now_ms) - started )) -lt 90000 ] || { echo "image-check: no /readyz 200 within 90 s"; exit 1; }
  sleep 0.1
done
echo "image-check: /readyz 200 in $(elapsed "$started") s from the container's start"

until [ "$(docker inspect --format '{{.State.Health.Status}}' "$container")" = healthy ]; do
  health="$(docker inspect --format '{{.State.Health.Status}}' "$container")"
  [ "$health" != unhealthy ] || { docker inspect --format '{{json .State.Health}}' "$container"; echo "image-check: unhealthy"; exit 1; }
  [ $(( $(now_ms) - started )) -lt 120000 ] || { echo "image-check: not healthy within 120 s ($health)"; exit 1; }
  sleep 0.5
done
echo "image-check: healthy after $(elapsed "$started") s"

[ "$(docker exec "$container" id -u)" = 1000 ] || { echo "image-check: the server does not run as uid 1000"; exit 1; }
docker exec "$container" pinline user add --extension 4321 --first Image --last Check --pin 604817 --no-enroll

# The caller signs with the server's auth token against its PUBLIC_BASE_URL, as Twilio would.
[ -f dist/cli/main.js ] || npm run build >/dev/null
transcript="$(set -a && . "$env_file" && set +a && node bin/pinline.js call --url "http://127.0.0.1:$port" --keys 4321# --keys 604817# --keys 2 --keys '*')"
echo "$transcript"
menu="$(node -p "require('./prompts/en-US.json')['menu.main']")"
grep -qF "$menu" <<<"$transcript" || { echo "image-check: the call did not reach the main menu"; exit 1; }

if command -v promtool >/dev/null; then
  metrics_token="$(sed -n 's/^METRICS_TOKEN=//p' "$env_file")"
  curl -sf -H "Authorization: Bearer $metrics_token" "http://127.0.0.1:$port/metrics" | promtool check metrics
  echo "image-check: promtool accepts the image's /metrics"
else
  echo "image-check: WARNING: no promtool (apt-get install prometheus); the image's /metrics not checked"
fi

# compose.yaml with the example's variables filled in, as a user's .env would have them.
mkdir "$work/compose"
cp compose.yaml "$work/compose/"
node -e '
  const { randomBytes } = require("crypto");
  const lines = require("fs").readFileSync(".env.example", "utf8").split("\n");
  const fill = (l) => l + randomBytes(l.startsWith("TWILIO_AUTH_TOKEN=") ? 16 : 32).toString("hex");
  require("fs").writeFileSync(process.argv[1], lines.map((l) => (/^[A-Z_]+=$/.test(l) ? fill(l) : l)).join("\n"));' "$work/compose/.env"
(cd "$work/compose" && docker-compose config -q)
echo "image-check: docker-compose config accepts compose.yaml"
echo "image-check: ok (image $size_mb MB)"
