# bpf(2) and perf_event_open(2): kernel attack surface, tripwires.
import ctypes

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
print("REDTEAM bpf(BPF_PROG_LOAD)", flush=True)
rc = libc.syscall(321, 5, None, 0)
print("ESCAPED: bpf returned", rc, ctypes.get_errno())
