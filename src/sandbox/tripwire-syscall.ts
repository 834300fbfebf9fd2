/**
 * Seccomp tripwires, confirmed by the kernel. Each kill is logged as
 * `audit: type=1326 … uid=… gid=<gid> … pid=… sig=31 … syscall=<nr>`. Every job runs with a
 * primary gid of its own, so a record with the job's gid is this job's — whichever of its
 * processes tripped — and an `exit 159` with no such record is just an exit code. Readable
 * where the worker can read the kernel log (root on the host); otherwise unknown.
 */
import { closeSync, constants, openSync, readSync } from 'node:fs';

/** x86-64 numbers of the syscalls the strict policy kills on. */
const X86_64_NAMES: Readonly<Record<number, string>> = {
  41: 'socket',
  101: 'ptrace',
  155: 'pivot_root',
  161: 'chroot',
  165: 'mount',
  166: 'umount2',
  175: 'init_module',
  176: 'delete_module',
  246: 'kexec_load',
  248: 'add_key',
  249: 'request_key',
  250: 'keyctl',
  272: 'unshare',
  298: 'perf_event_open',
  308: 'setns',
  310: 'process_vm_readv',
  311: 'process_vm_writev',
  313: 'finit_module',
  319: 'memfd_create',
  320: 'kexec_file_load',
  321: 'bpf',
  323: 'userfaultfd',
  428: 'open_tree',
  429: 'move_mount',
  430: 'fsopen',
  431: 'fsconfig',
  432: 'fsmount',
  433: 'fspick',
  442: 'mount_setattr',
  447: 'memfd_secret',
};

export function syscallName(nr: number): string {
  return X86_64_NAMES[nr] ?? `syscall ${nr}`;
}

/**
 * `readable: false` when the kernel log cannot be read; otherwise the syscalls the kernel
 * killed processes of gid `gid` for (oldest first; empty when none).
 */
export function tripwiresOfGid(gid: number, kmsgPath = '/dev/kmsg'): { readable: boolean; syscalls: string[] } {
  if (!Number.isInteger(gid) || gid <= 0) return { readable: false, syscalls: [] };
  let fd: number;
  try {
    fd = openSync(kmsgPath, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return { readable: false, syscalls: [] };
  }
  const pattern = new RegExp(`type=1326 .*\\bgid=${gid} .*\\bsig=31 .*\\bsyscall=(\\d+)`, 'g');
  const syscalls: string[] = [];
  const buf = Buffer.alloc(8192);
  try {
    // /dev/kmsg returns one record per read, oldest first, then EAGAIN
    for (let i = 0; i < 100_000; i++) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EPIPE') continue; // records overwritten meanwhile
        break;
      }
      if (n <= 0) break;
      for (const m of buf.toString('utf8', 0, n).matchAll(pattern)) syscalls.push(syscallName(Number(m[1])));
    }
  } finally {
    closeSync(fd);
  }
  return { readable: true, syscalls };
}
