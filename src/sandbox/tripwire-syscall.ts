/**
 * Names for the syscalls the strict policy kills on, as the kernel's seccomp records number
 * them (tripwire-monitor.ts reads the records).
 */

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
