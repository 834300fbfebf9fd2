# Trip the policy once, in a child, and exit 0: only the kernel's record of the child's death
# (matched by the job's own ids) can tell. Run next to tripwire-flood.py, whose kills fill the
# kernel log's rate limit.
import ctypes
import os
import sys
import time

libc = ctypes.CDLL(None, use_errno=True)
time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 0.5)
print("REDTEAM tripwire in a child", flush=True)
pid = os.fork()
if pid == 0:
    libc.ptrace(0, 0, None, None)
    os._exit(0)
os.waitpid(pid, 0)
print("parent exits 0")
