/**
 * Pure checks of Airlock's seccomp policy (profiles/seccomp/strict.json): what each syscall of
 * interest resolves to, the runc quirks the file must avoid, and that the committed file is
 * exactly what scripts/seccomp/generate.mjs makes from the vendored moby profile. The behaviour
 * inside real containers is measured by scripts/seccomp/probe.sh (see scripts/seccomp/README.md).
 */
import { describe, it, expect, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

interface Arg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}
interface Filter {
  arches?: string[];
  caps?: string[];
  minKernel?: string;
}
interface Rule {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: Arg[] | null;
  comment?: string;
  includes?: Filter;
  excludes?: Filter;
}
interface Policy {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: unknown;
  syscalls: Rule[];
}
/** What the kernel does with one call: the action and, for SCMP_ACT_ERRNO, the errno. */
interface Outcome {
  action: string;
  errno?: number;
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const STRICT_PATH = join(ROOT, 'profiles/seccomp/strict.json');
const MOBY_PATH = join(ROOT, 'profiles/seccomp/moby-default.json');
const GENERATOR = join(ROOT, 'scripts/seccomp/generate.mjs');

const strictText = readFileSync(STRICT_PATH, 'utf8');
const policy = JSON.parse(strictText) as Policy;
const moby = JSON.parse(readFileSync(MOBY_PATH, 'utf8')) as Policy;

const KILL = 'SCMP_ACT_KILL_PROCESS';
const ERRNO = 'SCMP_ACT_ERRNO';
const ALLOW = 'SCMP_ACT_ALLOW';
const EPERM = 1;
const EACCES = 13;
const ENOSYS = 38;
const AF = { UNIX: 1, INET: 2, INET6: 10, NETLINK: 16, PACKET: 17, BLUETOOTH: 31, ALG: 38, VSOCK: 40 } as const;
const NETLINK_ROUTE = 0;
const NETLINK_AUDIT = 9;
const CLONE_NEW_FLAGS = 0x7e020000; // CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET

const TRIPWIRES = [
  'ptrace',
  'process_vm_readv',
  'process_vm_writev',
  'mount',
  'umount',
  'umount2',
  'pivot_root',
  'chroot',
  'unshare',
  'setns',
  'open_tree',
  'move_mount',
  'fsopen',
  'fsconfig',
  'fsmount',
  'fspick',
  'mount_setattr',
  'keyctl',
  'add_key',
  'request_key',
  'bpf',
  'perf_event_open',
  'userfaultfd',
  'memfd_create',
  'memfd_secret',
  'kexec_load',
  'kexec_file_load',
  'init_module',
  'finit_module',
  'delete_module',
];
const ENOSYS_CALLS = ['io_uring_setup', 'io_uring_enter', 'io_uring_register', 'clone3'];

/** Kernel precedence among actions when several rules match (most restrictive first). */
const PRECEDENCE = [KILL, 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_KILL', 'SCMP_ACT_TRAP', ERRNO, 'SCMP_ACT_NOTIFY', 'SCMP_ACT_TRACE', 'SCMP_ACT_LOG', ALLOW];

function argMatches(arg: Arg, args: readonly number[]): boolean {
  const actual = BigInt(args[arg.index] ?? 0);
  const value = BigInt(arg.value);
  switch (arg.op) {
    case 'SCMP_CMP_EQ':
      return actual === value;
    case 'SCMP_CMP_NE':
      return actual !== value;
    case 'SCMP_CMP_LT':
      return actual < value;
    case 'SCMP_CMP_LE':
      return actual <= value;
    case 'SCMP_CMP_GT':
      return actual > value;
    case 'SCMP_CMP_GE':
      return actual >= value;
    case 'SCMP_CMP_MASKED_EQ':
      return (actual & value) === BigInt(arg.valueTwo ?? 0);
    default:
      throw new Error(`unknown op ${arg.op}`);
  }
}

/** The rules of `p` that match a call (a rule's args are AND'ed; rules are alternatives). */
function matchingRules(p: Policy, name: string, args: readonly number[] = []): Rule[] {
  return p.syscalls.filter((r) => r.names.includes(name) && (r.args ?? []).every((a) => argMatches(a, args)));
}

/** Evaluates a call the way the kernel resolves it: the most restrictive matching action, else the default. */
function outcome(name: string, args: readonly number[] = []): Outcome {
  const matches = matchingRules(policy, name, args);
  if (matches.length === 0) return { action: policy.defaultAction, errno: policy.defaultErrnoRet };
  const rule = [...matches].sort((a, b) => PRECEDENCE.indexOf(a.action) - PRECEDENCE.indexOf(b.action))[0]!;
  return rule.action === ERRNO ? { action: ERRNO, errno: rule.errnoRet ?? policy.defaultErrnoRet } : { action: rule.action };
}

const tmp = mkdtempSync(join(tmpdir(), 'airlock-seccomp-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('strict seccomp policy: shape', () => {
  it('denies by default with an errno (EPERM, as Docker does)', () => {
    expect(policy.defaultAction).toBe(ERRNO);
    expect(policy.defaultErrnoRet).toBe(EPERM);
  });

  it('admits native x86_64 only', () => {
    expect(policy.architectures).toEqual(['SCMP_ARCH_X86_64']);
    expect(policy.archMap).toBeUndefined();
  });

  it('has no capability-, arch- or kernel-conditioned rules left', () => {
    for (const rule of policy.syscalls) {
      expect(rule.includes, JSON.stringify(rule)).toBeUndefined();
      expect(rule.excludes, JSON.stringify(rule)).toBeUndefined();
    }
  });

  it('has no rule that repeats the default action (runc would silently drop it)', () => {
    for (const rule of policy.syscalls) {
      const same = rule.action === policy.defaultAction && (rule.errnoRet ?? policy.defaultErrnoRet) === policy.defaultErrnoRet;
      expect(same, JSON.stringify(rule)).toBe(false);
    }
  });

  it('never gives a syscall both an unconditional rule and another rule (which would shadow arg checks)', () => {
    const unconditional = new Set<string>();
    for (const rule of policy.syscalls.filter((r) => r.args === undefined || r.args === null)) {
      for (const name of rule.names) {
        expect(unconditional.has(name), name).toBe(false);
        unconditional.add(name);
      }
    }
    for (const rule of policy.syscalls.filter((r) => r.args !== undefined && r.args !== null)) {
      for (const name of rule.names) expect(unconditional.has(name), name).toBe(false);
    }
  });

  it('allows nothing that Docker’s default profile denies to a container without capabilities', () => {
    const mobyAllowed = new Set(
      moby.syscalls.filter((r) => r.action === ALLOW && r.includes?.caps === undefined && (r.includes?.arches ?? ['amd64']).includes('amd64')).flatMap((r) => r.names),
    );
    const strictAllowed = policy.syscalls.filter((r) => r.action === ALLOW).flatMap((r) => r.names);
    expect(strictAllowed.filter((n) => !mobyAllowed.has(n))).toEqual([]);
  });
});

describe('strict seccomp policy: what calls resolve to', () => {
  it.each(TRIPWIRES)('%s kills the process', (name) => {
    expect(outcome(name)).toEqual({ action: KILL });
    expect(outcome(name, [0x10000000, 1, 2])).toEqual({ action: KILL });
  });

  it.each(ENOSYS_CALLS)('%s fails with ENOSYS so callers fall back', (name) => {
    expect(outcome(name)).toEqual({ action: ERRNO, errno: ENOSYS });
  });

  it.each([
    ['AF_INET', AF.INET],
    ['AF_INET6', AF.INET6],
  ])('socket(%s) fails with EACCES', (_label, family) => {
    expect(outcome('socket', [family, 1, 0])).toEqual({ action: ERRNO, errno: EACCES });
  });

  it.each([
    ['AF_VSOCK', AF.VSOCK],
    ['AF_ALG', AF.ALG],
    ['AF_PACKET', AF.PACKET],
  ])('socket(%s) kills the process', (_label, family) => {
    expect(outcome('socket', [family, 1, 0])).toEqual({ action: KILL });
    expect(outcome('socket', [family, 3, 0x300])).toEqual({ action: KILL });
  });

  it('allows AF_UNIX sockets and NETLINK_ROUTE netlink sockets only', () => {
    expect(outcome('socket', [AF.UNIX, 1, 0])).toEqual({ action: ALLOW });
    expect(outcome('socket', [AF.NETLINK, 3, NETLINK_ROUTE])).toEqual({ action: ALLOW });
    expect(outcome('socket', [AF.NETLINK, 3, NETLINK_AUDIT])).toEqual({ action: ERRNO, errno: EPERM });
    expect(outcome('socket', [AF.BLUETOOTH, 1, 0])).toEqual({ action: ERRNO, errno: EPERM });
    // a family with garbage in the upper 32 bits (the kernel truncates to int) matches no rule
    expect(outcome('socket', [2 ** 32 + AF.VSOCK, 1, 0])).toEqual({ action: ERRNO, errno: EPERM });
  });

  it('gives every socket family at most one matching rule, so no allow rule can re-admit a denied family', () => {
    for (let family = 0; family < 64; family++) {
      for (const protocol of [0, 9, 0x300]) {
        expect(matchingRules(policy, 'socket', [family, 1, protocol]).length, `family ${family}`).toBeLessThanOrEqual(1);
      }
    }
  });

  it('keeps socketcall (the i386 multiplexer that hides socket arguments) out of the policy', () => {
    expect(policy.syscalls.some((r) => r.names.includes('socketcall'))).toBe(false);
  });

  it('keeps Docker’s personality allowances and nothing more', () => {
    for (const persona of [0x0, 0x8, 0x20000, 0x20008, 0xffffffff]) {
      expect(outcome('personality', [persona]), persona.toString(16)).toEqual({ action: ALLOW });
    }
    expect(outcome('personality', [0x0400000])).toEqual({ action: ERRNO, errno: EPERM }); // READ_IMPLIES_EXEC
    expect(outcome('personality', [0x0040000])).toEqual({ action: ERRNO, errno: EPERM }); // ADDR_NO_RANDOMIZE
  });

  it('allows clone only without namespace flags', () => {
    const CLONE_THREAD_FLAGS = 0x3d0f00; // what glibc's pthread_create passes
    expect(outcome('clone', [CLONE_THREAD_FLAGS])).toEqual({ action: ALLOW });
    expect(outcome('clone', [17])).toEqual({ action: ALLOW }); // fork: SIGCHLD
    for (let bit = 0; bit < 32; bit++) {
      const flag = 2 ** bit;
      if ((CLONE_NEW_FLAGS & flag) === 0) continue;
      expect(outcome('clone', [flag | 17]), flag.toString(16)).toEqual({ action: ERRNO, errno: EPERM });
    }
  });

  it('still allows the everyday syscalls', () => {
    for (const name of ['read', 'write', 'openat', 'mmap', 'mprotect', 'futex', 'execve', 'wait4', 'socketpair', 'getrandom', 'arch_prctl']) {
      expect(outcome(name), name).toEqual({ action: ALLOW });
    }
  });
});

describe('strict seccomp policy: generator', () => {
  it('regenerates the committed strict.json byte for byte', () => {
    const out = join(tmp, 'strict.json');
    execFileSync(process.execPath, [GENERATOR, '--out', out], { stdio: 'pipe' });
    expect(readFileSync(out, 'utf8')).toBe(strictText);
  });

  it('agrees with --check on the committed file', () => {
    expect(() => execFileSync(process.execPath, [GENERATOR, '--check'], { stdio: 'pipe' })).not.toThrow();
  });
});
