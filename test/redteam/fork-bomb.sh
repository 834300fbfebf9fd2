# The classic bash fork bomb. PidsLimit caps it; the wall clock ends it.
echo "REDTEAM fork bomb"
bomb() { bomb | bomb & }
bomb
# exec: no fork needed, so the wait itself cannot fail under the pids cap
exec sleep 60
