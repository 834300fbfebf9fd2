# Leave a swarm of processes that fills the pids limit right as the command exits, so the
# host's post-run collector has no process slot left. The job must still end cleanly.
echo result > out.txt
# this shell forks only before the swarm exists: a fork after it could hit the cap (dash exits 2)
sleep 1 &
pause=$!
(exec >/dev/null 2>&1 </dev/null; while :; do sleep 1000 & done) &
wait "$pause"
echo "REDTEAM pid swarm at exit"
