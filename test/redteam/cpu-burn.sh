# Burn CPU in several processes: NanoCpus caps the share, the wall clock ends it.
echo "REDTEAM cpu burn"
for i in 1 2 3 4 5 6; do
  (while :; do :; done) &
done
wait
