# One huge file: RLIMIT_FSIZE stops it (SIGXFSZ kills dd: status 128 + 25).
echo "REDTEAM huge file"
dd if=/dev/zero of=/work/huge bs=64k count=1000 2>/dev/null
echo "dd exit $?"
echo "size $(stat -c %s /work/huge)"
