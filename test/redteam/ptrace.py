# ptrace(PTRACE_TRACEME): the entry point of process injection; a tripwire.
import ctypes

libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
print("REDTEAM ptrace(PTRACE_TRACEME)", flush=True)
rc = libc.ptrace(0, 0, None, None)
print("ESCAPED: ptrace returned", rc, ctypes.get_errno())
