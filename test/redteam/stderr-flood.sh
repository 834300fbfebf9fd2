# Flood stderr: capped separately from stdout.
echo "REDTEAM stderr flood"
while :; do echo "EEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE" >&2; done
