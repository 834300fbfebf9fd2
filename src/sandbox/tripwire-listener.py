"""Airlock's tripwire channel: the kernel's seccomp kill records (audit type 1326), read from
the audit netlink multicast group, for the worker (tripwire-monitor.ts spawns this, one per
worker process, as root on the host: binding the group needs CAP_AUDIT_READ).

Why this and not the kernel log: every audit record is multicast BEFORE the printk rate limit
(10 per 5 s, host-wide) decides whether it reaches the kernel log, so one job tripping the
policy in a loop cannot hide another job's record. Measured on the 2-core test machine: two
containers each forking children that trip ptrace as fast as they could (6,976 kills in 8 s)
plus one job tripping once: all 6,977 records arrived here; the kernel log showed 10 of them
and not the single one. A loss on this socket (receive buffer overrun) is reported by the
kernel as ENOBUFS, and records it dropped before the multicast are counted in its `lost`
counter: both are reported (`L`), never silent.

Protocol, one line each way:
  stdin   W <gid>   watch records of processes with this gid (acknowledged with `w <gid>`)
          F <gid>   forget it
          B <n>     barrier: answered with `B <n>` once every record the kernel queued before
                    it has been reported (see below)
  stdout  R                  ready
          E <message>        fatal: the channel cannot be opened (the process exits)
          S <gid> <syscall>  a seccomp kill of a process with a watched gid
          D <gid> <syscall> <code> <count>
                             the behaviour watch's records (images/airlock-watch: an errno or
                             log action of its filter, not a kill) of a watched gid so far, sent
                             just before a barrier's answer whenever a count changed
          N <why>            the kernel does not record the behaviour watch's actions (sent once,
                             after R)
          L <why>            records may have been lost
The barrier: a record this process makes the kernel queue (type 1326, uid 0) in the same FIFO
as every job's records, so once it comes back every earlier record has been seen. This process
carries a seccomp filter of its own that lets one call through with a record (SECCOMP_RET_LOG:
getpriority of a pid that cannot exist, which changes nothing), so a barrier is one syscall.
Where the kernel does not log that action (or `--fork-barrier` is given), a child of this
process enters seccomp strict mode and makes a forbidden syscall instead: the kernel kills it
and records that; it costs a fork (~5 ms) and shows in the host's kernel log (rate-limited) as
a kill of python3.
EOF on stdin (the worker is gone) ends this process.
"""

import collections
import ctypes
import errno
import os
import select
import socket
import struct
import sys

NETLINK_AUDIT = 9
AUDIT_NLGRP_READLOG = 1
AUDIT_GET = 1000
AUDIT_SECCOMP = 1326
# the `code` field of a kill record (SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD)
KILL_CODES = (b"0x80000000", b"0x0")
SO_RCVBUFFORCE = 33
PR_SET_SECCOMP = 22
SECCOMP_MODE_STRICT = 1
HEADER = struct.Struct("=IHHII")
# the log barrier: getpriority(PRIO_PROCESS, who) with a `who` above any pid (pid_max <= 2^22)
SYS_SECCOMP = 317
SECCOMP_SET_MODE_FILTER = 1
SYS_GETPRIORITY = 140
BARRIER_WHO = 0x41524C4B
LOG_CODE = b"0x7ffc0000"
PR_SET_NO_NEW_PRIVS = 38


class SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint32)]


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def field(data, key, start, end):
    """The value of ` key=` in the record data[start:end], as bytes (first occurrence), or None.
    Untrusted strings (comm, exe) are quoted or hex-encoded by the kernel and never contain a
    space, so a job cannot forge a field. Parsing in place (no decode, no dict) keeps the
    listener ahead of a socket flood: it must drain the kernel as fast as a job can fill it."""
    i = data.find(key, start, end)
    if i < 0:
        return None
    i += len(key)
    j = data.find(b" ", i, end)
    return data[i : end if j < 0 else j].rstrip(b"\0\n")


def kernel_lost():
    """The kernel's count of audit records it dropped (AUDIT_GET), or None when unreadable."""
    try:
        with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_AUDIT) as s:
            s.settimeout(2)
            s.bind((0, 0))
            s.sendto(HEADER.pack(HEADER.size, AUDIT_GET, 1, 1, 0), (0, 0))
            for _ in range(4):
                data = s.recv(65536)
                length, kind = struct.unpack_from("=IH", data, 0)
                if kind == AUDIT_GET:
                    # struct audit_status: mask, enabled, failure, pid, rate_limit, backlog_limit, lost
                    return struct.unpack_from("=7I", data, HEADER.size)[6]
                if kind == 2 and struct.unpack_from("=i", data, HEADER.size)[0] != 0:
                    return None
    except OSError:
        return None
    return None


def actions_logged():
    """The seccomp actions the kernel records (kernel.seccomp.actions_logged)."""
    return open("/proc/sys/kernel/seccomp/actions_logged").read().split()


def open_channel(logged):
    for action in ("kill_process", "kill_thread"):
        if action not in logged:
            raise OSError(f"kernel.seccomp.actions_logged lacks {action}: seccomp kills are not recorded")
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_AUDIT)
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 32 << 20)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 << 20)
    sock.bind((0, AUDIT_NLGRP_READLOG))
    sock.setblocking(False)
    return sock


def install_log_barrier(libc, logged):
    """Puts the log barrier's filter on this process; False when the kernel would not record it."""
    if "log" not in logged:
        return False
    program = [
        (0x20, 0, 0, 4), (0x15, 0, 5, 0xC000003E),  # ld arch; not x86_64 -> allow
        (0x20, 0, 0, 0), (0x15, 0, 3, SYS_GETPRIORITY),  # ld nr; not getpriority -> allow
        (0x20, 0, 0, 24), (0x15, 0, 1, BARRIER_WHO),  # ld args[1] (low half); not ours -> allow
        (0x06, 0, 0, 0x7FFC0000),  # SECCOMP_RET_LOG
        (0x06, 0, 0, 0x7FFF0000),  # SECCOMP_RET_ALLOW
    ]
    filters = (SockFilter * len(program))(*[SockFilter(*i) for i in program])
    fprog = SockFprog(len(program), filters)
    # no_new_privs lets a process without CAP_SYS_ADMIN add a filter; this one never execs
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return False
    return libc.syscall(SYS_SECCOMP, SECCOMP_SET_MODE_FILTER, 0, ctypes.byref(fprog)) == 0


def log_barrier(libc):
    """One call through the filter: the kernel queues its record behind every earlier one."""
    libc.syscall(SYS_GETPRIORITY, 0, BARRIER_WHO)


def barrier_child(libc):
    """Forks a child that dies in seccomp strict mode; returns its pid."""
    pid = os.fork()
    if pid == 0:
        libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0)
        os.getppid()  # not read/write/exit: SIGKILL and a record
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def drain(sock, watched, counts, reported, barriers, state):
    """Reads every record queued on the socket (one recv each, no select between them)."""
    # bounded, so a flood cannot starve the worker's commands on stdin
    for _ in range(100_000):
        try:
            data = sock.recv(1 << 16)
        except BlockingIOError:
            return
        except OSError as e:
            if e.errno != errno.ENOBUFS:
                raise
            say("L the audit socket overran")
            continue
        size = len(data)
        offset = 0
        while offset + HEADER.size <= size:
            length, kind, _, _, _ = HEADER.unpack_from(data, offset)
            if length < HEADER.size:
                break
            end = min(offset + length, size)
            if kind == AUDIT_SECCOMP:
                record(data, offset + HEADER.size, end, watched, counts, reported, barriers, state)
            offset += (length + 3) & ~3


def record(data, start, end, watched, counts, reported, barriers, state):
    gid = field(data, b" gid=", start, end)
    if gid in watched:
        syscall = (field(data, b" syscall=", start, end) or b"?").decode()
        code = field(data, b" code=", start, end) or b"?"
        if code in KILL_CODES:
            say(f"S {gid.decode()} {syscall}")
        else:
            key = (gid.decode(), syscall, code.decode())
            counts[key] = counts.get(key, 0) + 1
        return
    pid = field(data, b" pid=", start, end) or b""
    if field(data, b" uid=", start, end) != b"0" or not pid.isdigit():
        return
    pid = int(pid)
    if pid == state["self"]:
        # this process's own log barrier (its filter records nothing else)
        if field(data, b" code=", start, end) != LOG_CODE or not state["log_tokens"]:
            return
        token = state["log_tokens"].popleft()
    elif pid in barriers:
        token = barriers.pop(pid)
    else:
        return
    now = kernel_lost()
    if now is None or now != state["lost"]:
        say("L the kernel dropped audit records")
        state["lost"] = now if now is not None else state["lost"]
    for key, n in counts.items():
        if reported.get(key) != n:
            say(f"D {key[0]} {key[1]} {key[2]} {n}")
            reported[key] = n
    say(f"B {token}")


def main():
    try:
        logged = actions_logged()
        sock = open_channel(logged)
    except OSError as e:
        say(f"E {e}")
        return 2
    state = {"lost": kernel_lost()}
    if state["lost"] is None:
        say("E cannot read the kernel's audit status (AUDIT_GET needs CAP_AUDIT_CONTROL)")
        return 2
    libc = ctypes.CDLL(None, use_errno=True)
    # this process's pid on log barriers (None: barriers fork a child), and their tokens in order
    state["self"] = os.getpid() if "--fork-barrier" not in sys.argv[1:] and install_log_barrier(libc, logged) else None
    state["log_tokens"] = collections.deque()
    watched = set()
    counts = {}  # (gid, syscall, code) -> behaviour records seen
    reported = {}  # the same, as last sent
    barriers = {}  # child pid -> barrier token
    stdin = sys.stdin.buffer
    pending = b""
    say("R")
    if "errno" not in logged or "log" not in logged:
        say("N kernel.seccomp.actions_logged lacks errno or log: the behaviour watch leaves no records")
    while True:
        readable, _, _ = select.select([sock, stdin], [], [])
        if sock in readable:
            drain(sock, watched, counts, reported, barriers, state)
        if stdin in readable:
            chunk = os.read(stdin.fileno(), 65536)
            if not chunk:
                return 0
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                parts = line.decode().split()
                if len(parts) != 2:
                    continue
                cmd, arg = parts
                if cmd == "W":
                    watched.add(arg.encode())
                    say(f"w {arg}")
                elif cmd == "F":
                    watched.discard(arg.encode())
                    for key in [k for k in counts if k[0] == arg]:
                        counts.pop(key, None)
                        reported.pop(key, None)
                elif cmd == "B" and state["self"] is not None:
                    state["log_tokens"].append(arg)
                    log_barrier(libc)
                elif cmd == "B":
                    barriers[barrier_child(libc)] = arg


if __name__ == "__main__":
    sys.exit(main())
