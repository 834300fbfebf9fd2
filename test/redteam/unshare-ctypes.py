# unshare(CLONE_NEWUSER) through ctypes: the seccomp tripwire kills the process (SIGSYS).
import ctypes

libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWUSER = 0x10000000
print("REDTEAM unshare(CLONE_NEWUSER)", flush=True)
rc = libc.unshare(CLONE_NEWUSER)
print("ESCAPED: unshare returned", rc, ctypes.get_errno())
