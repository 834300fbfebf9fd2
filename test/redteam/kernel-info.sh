# Kernel information an exploit needs: symbol addresses, modules, config, slab layout, keys.
echo "REDTEAM kernel info"
for f in /proc/kallsyms /proc/modules /proc/config.gz /proc/slabinfo /proc/vmallocinfo /proc/keys /proc/timer_list /proc/kcore /proc/sched_debug; do
  if [ -e "$f" ]; then
    n=$(cat "$f" 2>/dev/null | wc -c)
    echo "$f: $n bytes"
  else
    echo "$f: absent"
  fi
done
echo "/sys/kernel entries: $(ls -A /sys/kernel 2>/dev/null | wc -l)"
echo "/sys/firmware entries: $(ls -A /sys/firmware 2>/dev/null | wc -l)"
if head -c 1 /proc/kmsg >/dev/null 2>&1; then echo "ESCAPED: read /proc/kmsg"; else echo "denied /proc/kmsg"; fi
if [ -e /dev/kmsg ]; then echo "ESCAPED: /dev/kmsg exists"; else echo "no /dev/kmsg"; fi
