# A syscall through the x32 ABI (nr | 0x40000000): a filter written for x86_64 numbers alone
# would not see it; the policy admits only the native architecture, so this is a kill.
import ctypes

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
print("REDTEAM x32 getpid", flush=True)
rc = libc.syscall(0x40000000 | 39)
print("ESCAPED: x32 syscall returned", rc, ctypes.get_errno())
