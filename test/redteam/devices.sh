# Hunt for host devices (disks, memory, kernel log) and try to create one.
echo "REDTEAM devices"
for d in /dev/sda /dev/vda /dev/nvme0n1 /dev/mem /dev/kmem /dev/port /dev/kmsg /dev/fuse /dev/net/tun /dev/vsock /dev/vhost-vsock; do
  [ -e "$d" ] && echo "ESCAPED: $d present"
done
# a glob, not ls: coreutils 9.1 ls fails with EINVAL on gVisor 2022-12 (statx)
for f in /dev/*; do printf '%s ' "${f#/dev/}"; done; echo
if mknod /work/sda b 8 0 2>/dev/null; then echo "ESCAPED: mknod block device"; else echo "denied mknod block"; fi
if mknod /work/null c 1 3 2>/dev/null; then echo "ESCAPED: mknod char device"; else echo "denied mknod char"; fi
echo "done"
