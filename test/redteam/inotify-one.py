# The victim of inotify-hog.py: a job that needs one inotify instance (file watchers, test
# runners in watch mode) while another tenant holds every instance its uid may have.
import ctypes
import errno

libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init1(0)
print("REDTEAM inotify one:", "ok" if fd >= 0 else errno.errorcode.get(ctypes.get_errno(), "?"))
