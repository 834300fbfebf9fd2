# The classic shell fork bomb. PidsLimit caps it; the wall clock ends it.
echo "REDTEAM fork bomb"
bomb() { bomb | bomb & }
# One fork from this shell, taken before any bomb process exists: a pipeline started here
# would fork twice, and the second fork can already hit the cap (dash then exits 2 -> failed)
bomb &
# exec: no fork needed, so the wait itself cannot fail under the pids cap
exec sleep 60
