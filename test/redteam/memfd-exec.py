# Fileless execution: copy a binary into a memfd and exec it, sidestepping noexec mounts.
import os

print("REDTEAM memfd_create", flush=True)
fd = os.memfd_create("payload", 0)
with open("/bin/echo", "rb") as f:
    os.write(fd, f.read())
print("ESCAPED: memfd", fd, flush=True)
os.execv(f"/proc/self/fd/{fd}", ["payload", "ESCAPED: ran from a memfd"])
