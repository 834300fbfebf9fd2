#!/usr/bin/env bash
# The gVisor isolation tier (profiles with "isolation": "gvisor"), called by setup.sh once the
# engine and the images are up. Idempotent; when nothing changed it costs a `docker info`.
#   1. installs runsc from Debian's packages when missing (root on Debian only)
#   2. registers it with the engine as the runtime `runsc` in daemon.json, merged into what is
#      there (other settings and runtimes are kept), then reloads dockerd with SIGHUP: runtimes
#      reload without a restart, running containers are untouched
#   3. runs a trivial container under it once per runsc version and arguments
# Where gVisor cannot run, it says so once and leaves `runsc` unregistered: the engine's runtime
# list is what workers report, so a job on a gVisor profile is refused (503
# ISOLATION_UNAVAILABLE), never run on the plain runtime.
#
# Runtime arguments (Docker 20.10 cannot pass per-container runtime flags):
#   --network=none  the containers have no network; without it runsc refuses to start them
#   (no --oci-seccomp: measured, runsc applies an OCI seccomp policy only to the container's init
#   and its children, never to a `docker exec`'d process, and every job runs as an exec; this
#   release also refuses SCMP_ACT_KILL_PROCESS. Under gVisor the job's calls go to gVisor's own
#   kernel, the Sentry, which runs under gVisor's host filter: docs/security-model.md, "How a job is contained")
#   --host-uds=open a job granted tools may connect to the gateway's socket in its read-only
#                   /run/airlock (the only host socket it is given); it can create none
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=${AIRLOCK_DATA_DIR:-$root/.airlock}
sock=${AIRLOCK_DOCKER_SOCKET:-/var/run/docker.sock}
state="$data/gvisor.state"
args='["--network=none", "--host-uds=open"]'
say() { printf 'setup: %s\n' "$*"; }

# says why gVisor is unavailable, once per reason (the state file remembers it)
unavailable() {
  local why="gVisor unavailable: $1; the *-gvisor profiles are refused (503 ISOLATION_UNAVAILABLE)"
  [ "$(cat "$state" 2>/dev/null)" = "$why" ] || say "$why"
  echo "$why" > "$state"
  exit 0
}
# the engine's runsc entry as canonical JSON ("none" when it has none)
engine_runsc() { curl -sf --max-time 5 --unix-socket "$sock" http://localhost/info | python3 -c 'import json,sys; r=json.load(sys.stdin).get("Runtimes", {}).get("runsc"); print("none" if r is None else json.dumps(r, sort_keys=True))'; }

if ! command -v runsc >/dev/null 2>&1; then
  [ "$(id -u)" -eq 0 ] && [ -r /etc/debian_version ] || unavailable "runsc is not installed (Debian: apt-get install runsc)"
  say "installing runsc (gVisor) from Debian's packages"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends runsc >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends runsc >/dev/null 2>&1; } \
    || unavailable "the runsc package could not be installed"
fi
runsc=$(command -v runsc)

# the engine must be this host's dockerd, reloadable by us
pid=$(cat /var/run/docker.pid 2>/dev/null || pidof dockerd 2>/dev/null || true)
if [ -z "$pid" ] || [ "$sock" != /var/run/docker.sock ] || [ "$(id -u)" -ne 0 ]; then
  [ "$(engine_runsc)" != none ] && exit 0
  unavailable "the engine at $sock is not this host's dockerd run by root; register runsc there (runtimeArgs $args)"
fi
# dockerd reads its own --config-file on SIGHUP
conf=$(tr '\0' '\n' < "/proc/$pid/cmdline" | sed -n 's/^--config-file=//p;/^--config-file$/{n;p}' | sed -n 1p)
conf=${conf:-/etc/docker/daemon.json}

# merge: only runtimes.runsc is ours; prints "changed" when the file was rewritten
merge() { # $1: register | unregister
  python3 - "$conf" "$1" "$runsc" "$args" <<'PY'
import json, os, sys
conf, action, path, args = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
try:
    with open(conf) as f:
        text = f.read()
    cfg = json.loads(text) if text.strip() else {}
except FileNotFoundError:
    cfg = {}
if not isinstance(cfg, dict):
    sys.exit(f"{conf} is not a JSON object")
runtimes = cfg.setdefault("runtimes", {})
ours = {"path": path, "runtimeArgs": args}
if action == "register":
    if runtimes.get("runsc") == ours:
        sys.exit(0)
    runtimes["runsc"] = ours
else:
    if runtimes.get("runsc") != ours:
        sys.exit(0)
    del runtimes["runsc"]
os.makedirs(os.path.dirname(conf), exist_ok=True)
tmp = f"{conf}.airlock-tmp"
with open(tmp, "w") as f:
    json.dump(cfg, f, indent=2)
    f.write("\n")
os.replace(tmp, conf)
print("changed")
PY
}
# $1: register | unregister: true when the engine runs runsc with our arguments (register) or has no runsc (unregister)
listed() {
  local want=none
  [ "$1" = register ] && want=$(python3 -c 'import json,sys; print(json.dumps({"path": sys.argv[1], "runtimeArgs": json.loads(sys.argv[2])}, sort_keys=True))' "$runsc" "$args")
  [ "$(engine_runsc)" = "$want" ]
}
# SIGHUP when the engine does not yet agree, then wait until it does
reload() {
  listed "$1" && return 0
  kill -HUP "$pid"
  for _ in $(seq 1 40); do listed "$1" && return 0; sleep 0.25; done
  return 1
}

# a trivial container, once per runsc version and arguments; a failed trial is not repeated for them
key="$("$runsc" --version 2>/dev/null | sed -n 1p) $args"
case "$(cat "$state" 2>/dev/null)" in
  "ok $key") listed register && exit 0 ;;
  "failed $key"*) exit 0 ;;
esac
changed=$(merge register 2>&1) || unavailable "$conf could not be merged ($changed)"
if [ "$changed" = changed ]; then
  say "registered runsc (gVisor) in $conf; reloading dockerd (SIGHUP, no restart)"
fi
reload register || unavailable "dockerd did not load the runsc runtime after SIGHUP"
image=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["shell"]["id"])' "$data/images.json")
name="airlock-gvisor-trial-$$"
if out=$(timeout 60 docker run --rm --name "$name" --runtime runsc --network none --read-only --cap-drop ALL \
  --security-opt no-new-privileges --user 10002:10002 --entrypoint /bin/sh "$image" -c 'echo gvisor-ok; uname -r' 2>&1) &&
  [ "$(echo "$out" | sed -n 1p)" = gvisor-ok ]; then
  echo "ok $key" > "$state"
  say "gVisor works ($key; kernel $(echo "$out" | sed -n 2p) inside)"
  exit 0
fi
timeout 20 docker rm -f "$name" >/dev/null 2>&1 || true
# never leave a runtime registered that cannot run a container: workers would offer it
[ "$(merge unregister 2>/dev/null)" = changed ] && reload unregister || true
why="a trivial runsc container did not run on this host ($(echo "$out" | tail -1 | cut -c1-200))"
say "gVisor unavailable: $why; the *-gvisor profiles are refused (503 ISOLATION_UNAVAILABLE)"
echo "failed $key: $why" > "$state"
