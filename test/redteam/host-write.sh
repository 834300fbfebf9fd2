# Try to create a file on the HOST (the test checks the host path afterwards): through the
# container's /tmp, path tricks, /proc/1/root and /proc/self/root.
echo "REDTEAM host write $REDTEAM_ID"
name="airlock-redteam-$REDTEAM_ID"
for p in "/tmp/$name" "/work/../tmp/$name" "/proc/1/root/tmp/$name" "/proc/1/cwd/../tmp/$name" "/proc/self/root/tmp/$name" "/dev/shm/../../tmp/$name"; do
  if (echo pwned > "$p") 2>/dev/null; then echo "wrote (inside the sandbox) $p"; else echo "denied $p"; fi
done
echo "done"
