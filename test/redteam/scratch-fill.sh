# Fill the scratch space (/work is a size-capped tmpfs), then carry on: the job ends by itself.
echo "REDTEAM scratch fill"
dd if=/dev/zero of=/work/fill bs=1M count=1000 2>/tmp/dd.err
echo "dd exit $?"
cat /tmp/dd.err >&2 2>/dev/null || true
if echo more > /work/more 2>/dev/null; then echo "wrote after full?"; else echo "still full"; fi
echo "filled $(du -k /work/fill | cut -f1) KiB"
rm -f /work/fill
echo "recovered"
