# The victim of cross-job-spy.sh: plants its secret everywhere another job might look
# (argv, /work, /tmp, /dev/shm), then waits and checks nothing was touched.
echo "REDTEAM cross-job victim"
echo "$REDTEAM_SECRET" > /work/secret
echo "$REDTEAM_SECRET" > /tmp/secret
echo "$REDTEAM_SECRET" > /dev/shm/secret
sh -c "sleep 4 # $REDTEAM_SECRET" &
echo planted
wait
for f in /work/secret /tmp/secret /dev/shm/secret; do
  [ "$(cat $f 2>/dev/null)" = "$REDTEAM_SECRET" ] || echo "disturbed $f"
done
echo undisturbed
