"""Seccomp probes for profiles/seccomp/strict.json, run inside the sandbox image by probe.sh.

`python3 - NAME` runs one probe in this process and prints `NAME: <outcome>`. A probe that hits a
SCMP_ACT_KILL_PROCESS rule prints nothing more: the process dies of SIGSYS and the container
exits with 159 (docker-init reports 128 + 31). x86_64 syscall numbers throughout.
"""
import ctypes
import errno
import mmap
import os
import socket
import sys

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

AF_UNIX, AF_INET, AF_INET6, AF_NETLINK, AF_PACKET, AF_BLUETOOTH, AF_ALG, AF_VSOCK = 1, 2, 10, 16, 17, 31, 38, 40
SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_SEQPACKET = 1, 2, 3, 5
NETLINK_ROUTE, NETLINK_AUDIT = 0, 9
CLONE_NEWUSER, CLONE_NEWNS = 0x10000000, 0x00020000
SIGCHLD = 17
READ_IMPLIES_EXEC, ADDR_NO_RANDOMIZE = 0x0400000, 0x0040000
X32_SYSCALL_BIT = 0x40000000

buf = ctypes.create_string_buffer(256)


def raw(nr, *args):
    """One raw syscall; returns 'ok <ret>' or the errno name."""
    ctypes.set_errno(0)
    ret = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) if isinstance(a, int) else a for a in args])
    if ret == -1:
        e = ctypes.get_errno()
        return f"-1 {errno.errorcode.get(e, e)} ({e})"
    if ret == 0 and nr == 56:  # a clone that succeeded: the child leaves at once
        os._exit(0)
    return f"ok {ret}"


def int80_getpid():
    """i386 getpid (nr 20) through `int 0x80` from this 64-bit process."""
    code = bytes([0xB8, 0x14, 0, 0, 0, 0xCD, 0x80, 0xC3])  # mov eax,20; int 0x80; ret
    page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(code)
    addr = ctypes.addressof(ctypes.c_char.from_buffer(page))
    return f"ok {ctypes.CFUNCTYPE(ctypes.c_long)(addr)()}"


def py_socket(family, kind=SOCK_STREAM, proto=0):
    try:
        s = socket.socket(family, kind, proto)
        s.close()
        return "ok (socket created)"
    except OSError as e:
        return f"{type(e).__name__} {errno.errorcode.get(e.errno, e.errno)} ({e.errno})"


PROBES = {
    "ptrace": lambda: raw(101, 0, 0, 0, 0),  # PTRACE_TRACEME
    "process_vm_readv": lambda: raw(310, os.getpid(), 0, 0, 0, 0, 0),
    "memfd_create": lambda: raw(319, ctypes.c_char_p(b"x"), 0),
    "unshare": lambda: raw(272, CLONE_NEWUSER),
    "setns": lambda: raw(308, 0, 0),
    "mount": lambda: raw(165, ctypes.c_char_p(b"none"), ctypes.c_char_p(b"/tmp"), ctypes.c_char_p(b"tmpfs"), 0, 0),
    "umount2": lambda: raw(166, ctypes.c_char_p(b"/tmp"), 0),
    "pivot_root": lambda: raw(155, ctypes.c_char_p(b"/tmp"), ctypes.c_char_p(b"/tmp")),
    "chroot": lambda: raw(161, ctypes.c_char_p(b"/tmp")),
    "open_tree": lambda: raw(428, -100, ctypes.c_char_p(b"/tmp"), 0),
    "fsopen": lambda: raw(430, ctypes.c_char_p(b"tmpfs"), 0),
    "keyctl": lambda: raw(250, 0, -3, 0),  # KEYCTL_GET_KEYRING_ID of the session keyring
    "add_key": lambda: raw(248, ctypes.c_char_p(b"user"), ctypes.c_char_p(b"k"), buf, 1, -3),
    "request_key": lambda: raw(249, ctypes.c_char_p(b"user"), ctypes.c_char_p(b"k"), 0, 0),
    "bpf": lambda: raw(321, 0, buf, 48),  # BPF_MAP_CREATE
    "perf_event_open": lambda: raw(298, buf, 0, -1, -1, 0),
    "userfaultfd": lambda: raw(323, 0),
    "kexec_load": lambda: raw(246, 0, 0, 0, 0),
    "init_module": lambda: raw(175, buf, 1, ctypes.c_char_p(b"")),
    "socket_vsock": lambda: raw(41, AF_VSOCK, SOCK_STREAM, 0),
    "socket_alg": lambda: raw(41, AF_ALG, SOCK_SEQPACKET, 0),
    "socket_packet": lambda: raw(41, AF_PACKET, SOCK_RAW, 0),
    "socket_inet": lambda: py_socket(socket.AF_INET),
    "socket_inet6": lambda: py_socket(socket.AF_INET6, socket.SOCK_DGRAM),
    "socket_unix": lambda: py_socket(socket.AF_UNIX),
    "socket_netlink_route": lambda: py_socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE),
    "socket_netlink_audit": lambda: py_socket(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT),
    "socket_bluetooth": lambda: raw(41, AF_BLUETOOTH, SOCK_STREAM, 0),
    "socket_vsock_hibits": lambda: raw(41, (1 << 32) | AF_VSOCK, SOCK_STREAM, 0),
    "io_uring_setup": lambda: raw(425, 1, buf),
    "io_uring_enter": lambda: raw(426, 0, 0, 0, 0, 0, 0),
    "clone3": lambda: raw(435, buf, 88),
    "clone_newuser": lambda: raw(56, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0),
    "personality_query": lambda: raw(135, 0xFFFFFFFF),
    "personality_linux": lambda: raw(135, 0),
    "personality_read_implies_exec": lambda: raw(135, READ_IMPLIES_EXEC),
    "personality_addr_no_randomize": lambda: raw(135, ADDR_NO_RANDOMIZE),
    "x32_getpid": lambda: raw(X32_SYSCALL_BIT | 39),
    "i386_int80_getpid": int80_getpid,
}

if __name__ == "__main__":
    names = sys.argv[1:] or sorted(PROBES)
    for name in names:
        print(f"{name}: ", end="", flush=True)
        print(PROBES[name](), flush=True)
