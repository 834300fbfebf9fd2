#!/usr/bin/env bash
# One idempotent setup for `npm start` and `npm test` on a fresh Debian machine:
#   1. Debian packages: docker.io, redis-server, mmdebstrap, git, python3, docker-compose, chromium (installed only if
#      missing), and promtool taken out of Debian's prometheus package
#   2. dockerd, started when no engine answers
#   3. Redis: the embedded default — when AIRLOCK_REDIS_URL is unset and nothing answers on
#      127.0.0.1:6379, a private redis-server with AOF persistence under the data folder,
#      capped at AIRLOCK_REDIS_MAXMEMORY (default 1gb, `noeviction`)
#   4. npm ci (strict: exactly the lock), when node_modules does not match package-lock.json
#   5. the sandbox images, when missing or their recipe changed
#   6. gVisor (runsc) for the *-gvisor profiles: scripts/setup-gvisor.sh
# When everything is there it only checks, in a few seconds.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
data=${AIRLOCK_DATA_DIR:-$root/.airlock}
case "$data" in /*) ;; *) data="$root/$data" ;; esac
export AIRLOCK_DATA_DIR="$data"
mkdir -p "$data"
say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: ERROR: %s\n' "$*" >&2; exit 1; }

# --- 1. packages -------------------------------------------------------------------------
need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v mmdebstrap >/dev/null 2>&1 || need+=(mmdebstrap)
command -v git >/dev/null 2>&1 || need+=(git) # every job patch is read with git; the git staging target
command -v patch >/dev/null 2>&1 || need+=(patch) # test/patch-paths.test.ts replays the launcher's GNU patch check
# the worker's seccomp tripwire channel (src/sandbox/tripwire-listener.py; ctypes is in Debian's python3)
command -v python3 >/dev/null 2>&1 || need+=(python3)
# npm run compose:test (part of npm test) and the README's docker-compose deployment (issue 19)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
# the console's browser tests (test/*.browser.test.ts): Debian's Chromium, driven by playwright-core (no browser download)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && [ -r /etc/debian_version ] && command -v apt-get >/dev/null 2>&1; then
    say "installing ${need[*]} from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    die "missing: ${need[*]}. Install them (Debian/Ubuntu: sudo apt-get install -y ${need[*]}), then run this again."
  fi
fi

# promtool checks examples/prometheus-rules.yml (test/prometheus-rules.test.ts): taken out of Debian's
# prometheus package into the data folder, without installing the package (no server, no service)
if ! command -v promtool >/dev/null 2>&1 && [ ! -x "$data/bin/promtool" ]; then
  say "extracting promtool from Debian's prometheus package into $data/bin"
  tmp=$(mktemp -d)
  if (cd "$tmp" && { apt-get download prometheus >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get download prometheus >/dev/null 2>&1; }; } && dpkg-deb -x prometheus_*.deb x); then
    install -D -m 0755 "$tmp/x/usr/bin/promtool" "$data/bin/promtool"
  else
    say "could not fetch Debian's prometheus package: test/prometheus-rules.test.ts will say so"
  fi
  rm -rf "$tmp"
fi

# --- 2. Docker engine -----------------------------------------------------------------------
sock=${AIRLOCK_DOCKER_SOCKET:-/var/run/docker.sock}
engine_up() { curl -sf --max-time 3 --unix-socket "$sock" http://localhost/_ping >/dev/null 2>&1; }
if ! engine_up; then
  [ "$sock" = /var/run/docker.sock ] || die "no Docker engine answers at $sock (AIRLOCK_DOCKER_SOCKET); start it first"
  [ "$(id -u)" -eq 0 ] || die "no Docker engine answers and starting dockerd needs root: sudo dockerd &"
  say "starting dockerd (log: $data/dockerd.log)"
  setsid nohup dockerd >"$data/dockerd.log" 2>&1 < /dev/null &
  for _ in $(seq 1 60); do engine_up && break; sleep 0.5; done
  engine_up || die "dockerd did not come up; see $data/dockerd.log"
fi

# --- 3. Redis ----------------------------------------------------------------------------
redis_up() { # $1 host, $2 port: true when PING gets +PONG
  local reply
  reply=$(timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2 && printf 'PING\r\n' >&3 && head -c 5 <&3" 2>/dev/null || true)
  [ "$reply" = "+PONG" ]
}
# A cap, so a flood of stored inputs or records fills Redis, not the host: at the cap every write
# fails (noeviction: nothing is silently dropped) and the API refuses what it cannot record (503).
maxmemory=${AIRLOCK_REDIS_MAXMEMORY:-1gb}
[[ "$maxmemory" =~ ^[0-9]+([kKmMgG][bB]?)?$ ]] || die "AIRLOCK_REDIS_MAXMEMORY=$maxmemory: give bytes or a size like 512mb or 2gb"
redis_config_set() { # $1 port, $2 name, $3 value: CONFIG SET over RESP; true on +OK
  local reply
  reply=$(timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$0 && printf "*4\r\n\$6\r\nCONFIG\r\n\$3\r\nSET\r\n\$%d\r\n%s\r\n\$%d\r\n%s\r\n" ${#1} "$1" ${#2} "$2" >&3 && head -c 3 <&3' "$1" "$2" "$3" 2>/dev/null || true)
  [ "$reply" = "+OK" ]
}
if [ -z "${AIRLOCK_REDIS_URL:-}" ]; then
  pid_alive() { [ -f "$data/redis/redis.pid" ] && kill -0 "$(cat "$data/redis/redis.pid")" 2>/dev/null; }
  if redis_up 127.0.0.1 6379 && pid_alive; then
    # ours, already running: apply the cap (a changed AIRLOCK_REDIS_MAXMEMORY takes effect now)
    redis_config_set 6379 maxmemory "$maxmemory" || die "could not set maxmemory $maxmemory on the embedded Redis; see $data/redis/redis.log"
  fi
  if ! redis_up 127.0.0.1 6379; then
    mkdir -p "$data/redis"
    say "starting the embedded Redis on 127.0.0.1:6379 (AOF in $data/redis)"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --protected-mode yes \
      --dir "$data/redis" --appendonly yes --appendfsync everysec --maxmemory "$maxmemory" --maxmemory-policy noeviction \
      --pidfile "$data/redis/redis.pid" --logfile "$data/redis/redis.log" >/dev/null
    for _ in $(seq 1 40); do redis_up 127.0.0.1 6379 && break; sleep 0.25; done
    redis_up 127.0.0.1 6379 || die "redis-server did not come up; see $data/redis/redis.log"
  fi
fi

# --- 4. node_modules ------------------------------------------------------------------------
stamp=node_modules/.airlock-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "installing npm dependencies (npm ci)"
  # exactly the locked versions, or nothing: a lock npm ci refuses is a bug to fix at its source
  # (`npm run lock` regenerates it from package.json in a scratch folder), never papered over
  if ! npm ci --no-audit --no-fund --loglevel=error 2>"$data/npm-ci.log"; then
    cat "$data/npm-ci.log" >&2
    die "npm ci refused package-lock.json (above); run \`npm run lock\` and commit the lock file"
  fi
  echo "$want" > "$stamp"
fi

# --- 5. sandbox images ----------------------------------------------------------------------
bash "$root/scripts/build-images.sh"

# --- 6. gVisor: runsc registered with the engine for the *-gvisor profiles (or said unavailable) --
bash "$root/scripts/setup-gvisor.sh"
say "ready (data: $data)"
