# One huge file: RLIMIT_FSIZE stops it (SIGXFSZ kills dd: status 128 + 25).
echo "REDTEAM huge file"
dd if=/dev/zero of=/work/huge bs=64k count=1000 2>/dev/null
echo "dd exit $?"
# wc, not stat: coreutils 9.1 stat and ls fail with EINVAL on gVisor 2022-12 (statx)
echo "size $(wc -c </work/huge)"
