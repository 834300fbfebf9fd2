# Leave a swarm of processes that fills the pids limit right as the command exits, so the
# host's post-run collector has no process slot left. The job must still end cleanly.
echo result > out.txt
(exec >/dev/null 2>&1 </dev/null; while :; do sleep 1000 & done) &
sleep 1
echo "REDTEAM pid swarm at exit"
