#!/usr/bin/env bash
# Runs the seccomp probes and workloads against a profile in the real sandbox images, one
# container per probe (a killed probe ends its container), with the flags the worker uses.
#   bash scripts/seccomp/probe.sh [PROFILE]        (default: profiles/seccomp/strict.json)
#   PROFILE=default for Docker's built-in profile, for comparison.
# Prints one row per probe: name, container exit status, what the probe printed.
set -uo pipefail
cd "$(dirname "$0")/../.."
profile=${1:-profiles/seccomp/strict.json}
if [ "$profile" = default ]; then seccomp=(); else seccomp=(--security-opt "seccomp=$PWD/$profile"); fi
dir=scripts/seccomp

run() { # run IMAGE ENTRYPOINT ARGS... (stdin passes through)
  local image=$1 entry=$2
  shift 2
  docker run --rm -i --network none --read-only --cap-drop ALL --security-opt no-new-privileges "${seccomp[@]}" \
    --tmpfs /tmp:rw,noexec,nosuid,nodev,size=16m --shm-size 16m --ipc private --pids-limit 256 --memory 512m \
    --user 10001:10001 --init --entrypoint "$entry" "airlock/$image:latest" "$@"
}

failed=0
echo "== workloads (must exit 0) =="
run python python3 - <"$dir/workload.py" || { echo "python workload: EXIT $?"; failed=1; }
run node node --input-type=module - <"$dir/workload.mjs" || { echo "node workload: EXIT $?"; failed=1; }
out=$(run shell sh -c 'echo hi' </dev/null) && echo "shell: sh -c 'echo hi' -> $out" || { echo "shell: EXIT $?"; failed=1; }

echo "== probes (exit 159 = killed by SIGSYS) =="
names=$(sed -n 's/^    "\([a-z0-9_]*\)": .*/\1/p' "$dir/probes.py")
for name in $names; do
  out=$(run python python3 - "$name" <"$dir/probes.py" 2>&1)
  code=$?
  printf '%-32s exit=%-3s %s\n' "$name" "$code" "$(echo "$out" | tr '\n' ' ' | sed "s/^$name: //")"
done
exit $failed
