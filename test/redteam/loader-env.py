# Reached through the job's `env`: LD_SHOW_AUXV makes the dynamic loader print to stdout
# before the launcher's header (the README reserves every LD_* variable).
print("REDTEAM loader env: program ran")
