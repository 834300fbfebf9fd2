# io_uring bypasses seccomp argument filtering; the policy answers ENOSYS (no kill: libuv probes it).
import ctypes, errno

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
params = ctypes.create_string_buffer(120)
print("REDTEAM io_uring_setup", flush=True)
rc = libc.syscall(425, 8, params)
err = ctypes.get_errno()
if rc >= 0:
    print("ESCAPED: io_uring fd", rc)
else:
    print("io_uring_setup:", errno.errorcode.get(err, err))
