# Reached through the job's `env`: TAR_OPTIONS is read by the launcher's own tar, which runs
# BEFORE the launcher writes its trusted header. The checkpoint action prints a fake
# header first; if it works, user-chosen bytes precede the real header.
print("REDTEAM launcher env: program ran")
