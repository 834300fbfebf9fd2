# Hunt for the engine's socket (or any other host daemon socket) and try to talk to it.
import os, socket, stat

print("REDTEAM docker.sock hunt", flush=True)
candidates = ["/var/run/docker.sock", "/run/docker.sock", "/run/containerd/containerd.sock",
              "/var/run/containerd/containerd.sock", "/run/docker/metrics.sock", "/var/run/redis/redis-server.sock"]
found = []
for top, dirs, files in os.walk("/", onerror=lambda e: None):
    if top.startswith(("/proc", "/sys")):
        dirs[:] = []
        continue
    for name in dirs + files:
        p = os.path.join(top, name)
        try:
            if stat.S_ISSOCK(os.lstat(p).st_mode):
                found.append(p)
        except OSError:
            pass
for p in sorted(set(candidates + found)):
    if not os.path.exists(p):
        continue
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(p)
        s.sendall(b"GET /version HTTP/1.0\r\n\r\n")
        print("ESCAPED: talked to", p, s.recv(200))
    except OSError as e:
        print("socket present but refused:", p, e)
# abstract sockets live in the network namespace; with --network none there are none of the host's
with open("/proc/net/unix") as f:
    abstract = [line.split()[-1] for line in f.read().splitlines()[1:] if line.split()[-1].startswith("@")]
print("sockets found:", len(found), "abstract:", len(abstract))
