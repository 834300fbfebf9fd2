# Trip the policy in a child, then flood stdout past its cap: the host's kill (output_limit)
# must not erase the violation.
import ctypes
import os
import sys

libc = ctypes.CDLL(None, use_errno=True)
print("REDTEAM tripwire then output limit", flush=True)
pid = os.fork()
if pid == 0:
    libc.ptrace(0, 0, None, None)
    os._exit(0)
os.waitpid(pid, 0)
while True:
    sys.stdout.write("x" * 65536)
