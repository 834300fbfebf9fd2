# Claim a seccomp kill without making a forbidden syscall: exit 159 (128 + SIGSYS) by hand.
echo "REDTEAM forge exit 159"
exit 159
