# Trip the policy in a child, then run out the clock: the host's kill (timeout) must not erase
# the violation.
import ctypes
import os
import time

libc = ctypes.CDLL(None, use_errno=True)
print("REDTEAM tripwire then timeout", flush=True)
pid = os.fork()
if pid == 0:
    libc.ptrace(0, 0, None, None)
    os._exit(0)
os.waitpid(pid, 0)
time.sleep(60)
