# Details of the host a job could use to fingerprint it, or to learn its layout: its boot id
# (the same for every job until the host reboots), its kernel command line, and what
# /proc/self/mountinfo says about the host's filesystems.
echo "REDTEAM host fingerprint"
echo "boot_id: $(cat /proc/sys/kernel/random/boot_id 2>&1)"
echo "cmdline: $(cat /proc/cmdline 2>&1)"
# random on every read: no fingerprint
echo "uuid: $(cat /proc/sys/kernel/random/uuid | wc -c) bytes"
cat /proc/self/mountinfo
