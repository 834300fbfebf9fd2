# A deep tree for a hostile `outputs` glob (`**/` repeated): matched with a backtracking regular
# expression, each path costs time exponential in its depth, on the worker's event loop.
mkdir -p "$(printf 'a/%.0s' $(seq 28))"
echo "REDTEAM glob redos"
