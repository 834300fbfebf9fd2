# mount(2) a tmpfs (util-linux mount refuses non-root before the syscall, so call it directly).
import ctypes

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
print("REDTEAM mount tmpfs", flush=True)
rc = libc.mount(b"none", b"/work", b"tmpfs", 0, None)
print("ESCAPED: mount returned", rc, ctypes.get_errno())
