# Runs while cross-job-victim.sh runs: looks for the victim's secret in every process,
# in the shared-looking places (/tmp, /dev/shm, /work), and tries to kill what it finds.
echo "REDTEAM cross-job spy"
found=0
for p in /proc/[0-9]*; do
  if tr '\0' ' ' < "$p/cmdline" 2>/dev/null | grep -qF "$REDTEAM_SECRET"; then
    found=$((found + 1)); kill -9 "${p#/proc/}" 2>/dev/null
  fi
done
for f in /work/* /tmp/* /dev/shm/* /dev/mqueue/*; do
  [ -f "$f" ] && grep -qsF "$REDTEAM_SECRET" "$f" && found=$((found + 1)) && echo overwritten > "$f"
done
grep -qsF "$REDTEAM_SECRET" /proc/net/unix && found=$((found + 1))
echo "found $found"
