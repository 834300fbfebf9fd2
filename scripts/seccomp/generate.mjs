#!/usr/bin/env node
/**
 * Generates Airlock's strict seccomp policy, profiles/seccomp/strict.json, from the vendored
 * copy of moby's default profile (profiles/seccomp/moby-default.json). Origin, licence and the
 * reasons behind every change: scripts/seccomp/README.md and NOTICE.
 *
 * Plain Node, no dependencies, deterministic: the same input always gives byte-identical output
 * (fixed key order, 2-space indent, trailing newline).
 *
 *   node scripts/seccomp/generate.mjs              # (re)write profiles/seccomp/strict.json
 *   node scripts/seccomp/generate.mjs --out FILE   # write somewhere else (the unit test does this)
 *   node scripts/seccomp/generate.mjs --check      # exit 1 if strict.json is not what we generate
 */
import console from 'node:console';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

/**
 * The part of moby's profile format (moby profiles/seccomp/seccomp.go) this script reads and writes.
 * @typedef {{ index: number, value: number, valueTwo?: number, op: string }} Arg
 * @typedef {{ arches?: string[], caps?: string[], minKernel?: string }} Filter
 * @typedef {{ names: string[], action: string, errnoRet?: number, args?: Arg[] | null, comment?: string,
 *             includes?: Filter, excludes?: Filter }} Rule
 * @typedef {{ defaultAction: string, defaultErrnoRet?: number, syscalls: Rule[] }} MobyProfile
 * @typedef {{ defaultAction: string, defaultErrnoRet: number, architectures: string[], syscalls: Rule[] }} Policy
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BASE_PATH = resolve(ROOT, 'profiles/seccomp/moby-default.json');
const OUT_PATH = resolve(ROOT, 'profiles/seccomp/strict.json');

/** moby's arch token (Go's GOARCH) for the only architecture the policy admits. */
const NATIVE_ARCH = 'amd64';
/**
 * Native x86_64 only: no SCMP_ARCH_X86 / SCMP_ARCH_X32 sub-architectures (Docker adds both).
 * The sandbox images are 64-bit only, and the i386 ABI reaches sockets through the socketcall(2)
 * multiplexer, whose arguments sit behind a pointer that seccomp cannot read, so the socket
 * family rules below could be bypassed with `int 0x80`. With only X86_64 in the filter, i386
 * and x32 system calls hit libseccomp's bad-architecture action before any rule is looked at.
 */
const ARCHITECTURES = ['SCMP_ARCH_X86_64'];

const ACT_ALLOW = 'SCMP_ACT_ALLOW';
const ACT_ERRNO = 'SCMP_ACT_ERRNO';
const ACT_KILL_PROCESS = 'SCMP_ACT_KILL_PROCESS';

const EPERM = 1;
const EACCES = 13;
const ENOSYS = 38;

/** Address families (linux/socket.h) and the one netlink protocol admitted (linux/netlink.h). */
const AF_UNIX = 1;
const AF_INET = 2;
const AF_INET6 = 10;
const AF_NETLINK = 16;
const AF_PACKET = 17;
const AF_ALG = 38;
const AF_VSOCK = 40;
const NETLINK_ROUTE = 0;

/**
 * Tripwires: no legitimate sandboxed program calls these, so a call is treated as an attack and
 * the whole process is killed with SIGSYS (exit status 159) instead of getting an error back.
 */
const KILL = [
  // debugging / reading other processes
  'ptrace',
  'process_vm_readv',
  'process_vm_writev',
  // mounts, root changes and namespaces
  'mount',
  'umount',
  'umount2',
  'pivot_root',
  'chroot',
  'unshare',
  'setns',
  // the new mount API
  'open_tree',
  'move_mount',
  'fsopen',
  'fsconfig',
  'fsmount',
  'fspick',
  'mount_setattr',
  // kernel keyrings
  'keyctl',
  'add_key',
  'request_key',
  // large kernel attack surfaces
  'bpf',
  'perf_event_open',
  'userfaultfd',
  // anonymous in-memory files (fileless executables; /tmp and /work are noexec)
  'memfd_create',
  'memfd_secret',
  // kernel replacement and modules
  'kexec_load',
  'kexec_file_load',
  'init_module',
  'finit_module',
  'delete_module',
];

/**
 * Answered with ENOSYS, as on a kernel that lacks them, so callers fall back: libuv probes
 * io_uring when Node starts (killing on it would break every Node job) and glibc falls back from
 * clone3 to clone, whose namespace flags the clone rule can inspect (clone3's are behind a pointer).
 */
const ENOSYS_CALLS = ['clone3', 'io_uring_enter', 'io_uring_register', 'io_uring_setup'];

/**
 * Removed from moby's allow-list without a rule of their own (so they get the default EPERM):
 * socketcall is the i386 socket multiplexer that would bypass the socket family rules. It does
 * not exist on x86_64, so this only matters if a 32-bit architecture were ever admitted again.
 */
const DROPPED = ['socketcall'];

/** Every syscall whose moby rules are replaced wholesale by Airlock's. */
const OVERRIDDEN = new Set([...KILL, ...ENOSYS_CALLS, ...DROPPED, 'socket']);

/**
 * @param {number} index
 * @param {number} value
 * @returns {Arg}
 */
const eq = (index, value) => ({ index, value, op: 'SCMP_CMP_EQ' });

/** @returns {Rule[]} Airlock's own rules, appended after what survives of moby's. */
function airlockRules() {
  /** @type {[number, string][]} */
  const killedFamilies = [
    [AF_PACKET, 'AF_PACKET: raw link-layer sockets'],
    [AF_ALG, 'AF_ALG: kernel crypto API sockets'],
    [AF_VSOCK, 'AF_VSOCK: VM sockets to the hypervisor host'],
  ];
  /** @type {[number, string][]} */
  const refusedFamilies = [
    [AF_INET, 'AF_INET'],
    [AF_INET6, 'AF_INET6'],
  ];
  return [
    {
      names: [...KILL].sort(),
      action: ACT_KILL_PROCESS,
      comment: 'Airlock tripwires: the process is killed with SIGSYS (exit status 159)',
    },
    {
      names: [...ENOSYS_CALLS].sort(),
      action: ACT_ERRNO,
      errnoRet: ENOSYS,
      comment: 'Airlock: ENOSYS so libuv (io_uring) and glibc (clone3 -> clone) fall back; killing here breaks Node',
    },
    ...killedFamilies.map(([family, what]) => ({
      names: ['socket'],
      action: ACT_KILL_PROCESS,
      args: [eq(0, family)],
      comment: `Airlock tripwire: socket(${what}) kills the process`,
    })),
    ...refusedFamilies.map(([family, what]) => ({
      names: ['socket'],
      action: ACT_ERRNO,
      errnoRet: EACCES,
      args: [eq(0, family)],
      comment: `Airlock: socket(${what}) fails with EACCES (there is no network; programs see a plain permission error)`,
    })),
    {
      names: ['socket'],
      action: ACT_ALLOW,
      args: [eq(0, AF_UNIX)],
      comment: 'Airlock: socket(AF_UNIX) is allowed',
    },
    {
      names: ['socket'],
      action: ACT_ALLOW,
      args: [eq(0, AF_NETLINK), eq(2, NETLINK_ROUTE)],
      comment: 'Airlock: socket(AF_NETLINK, *, NETLINK_ROUTE) only (getaddrinfo, os.networkInterfaces); every other family gets the default EPERM',
    },
  ];
}

const RULE_KEYS = new Set(['names', 'action', 'errnoRet', 'args', 'comment', 'includes', 'excludes']);
const FILTER_KEYS = new Set(['arches', 'caps', 'minKernel']);

/**
 * Decides a moby rule as Docker would for an x86_64 container with every capability dropped,
 * and strips its conditions. Returns null when the rule would not apply or has nothing left.
 * Anything not understood throws, so a refreshed base gets a human review.
 * @param {Rule} rule
 * @returns {Rule | null}
 */
function resolveForAirlock(rule) {
  const where = JSON.stringify(rule);
  for (const key of Object.keys(rule)) {
    if (!RULE_KEYS.has(key)) throw new Error(`moby rule has unsupported key "${key}": ${where}`);
  }
  const inc = rule.includes ?? {};
  const exc = rule.excludes ?? {};
  for (const key of [...Object.keys(inc), ...Object.keys(exc)]) {
    if (!FILTER_KEYS.has(key)) throw new Error(`moby rule has unsupported filter "${key}": ${where}`);
  }
  // Airlock drops every capability: a rule that needs one never applies, and a rule excluded
  // for holders of one always does (so excludes.caps is simply dropped).
  if ((inc.caps ?? []).length > 0) return null;
  if (inc.arches !== undefined && inc.arches.length > 0 && !inc.arches.includes(NATIVE_ARCH)) return null;
  if ((exc.arches ?? []).includes(NATIVE_ARCH)) return null;
  if (exc.minKernel !== undefined) throw new Error(`excludes.minKernel is not supported: ${where}`);

  const names = rule.names.filter((n) => !OVERRIDDEN.has(n));
  if (names.length === 0) return null;
  if (inc.minKernel !== undefined) throw new Error(`a kernel-version rule survived; decide it by hand: ${where}`);
  /** @type {Rule} */
  const kept = { names, action: rule.action };
  if (rule.errnoRet !== undefined) kept.errnoRet = rule.errnoRet;
  if (rule.args !== undefined && rule.args !== null) kept.args = rule.args;
  if (rule.comment !== undefined) kept.comment = rule.comment;
  return kept;
}

/**
 * Fixed key order for a rule and its args; empty and absent fields are left out.
 * @param {Rule} rule
 * @returns {Rule}
 */
function normalizeRule(rule) {
  /** @type {Rule} */
  const out = { names: [...rule.names], action: rule.action };
  if (rule.errnoRet !== undefined) out.errnoRet = rule.errnoRet;
  if (rule.args !== undefined && rule.args !== null && rule.args.length > 0) {
    out.args = rule.args.map((a) => {
      /** @type {Arg} */
      const arg = { index: a.index, value: a.value, op: a.op };
      if (a.valueTwo === undefined || a.valueTwo === 0) return arg;
      return { index: a.index, value: a.value, valueTwo: a.valueTwo, op: a.op };
    });
  }
  if (rule.comment !== undefined && rule.comment !== '') out.comment = rule.comment;
  return out;
}

/**
 * Cross-checks the finished policy; throws on anything runc or libseccomp would mishandle.
 * @param {Policy} policy
 */
function validate(policy) {
  /** @type {Map<string, string>} */
  const unconditional = new Map();
  for (const rule of policy.syscalls) {
    if (rule.action === policy.defaultAction && (rule.errnoRet ?? policy.defaultErrnoRet) === policy.defaultErrnoRet) {
      // runc silently drops a rule whose action equals the default, so it would not do what it says
      throw new Error(`rule repeats the default action and would be dropped by runc: ${JSON.stringify(rule)}`);
    }
    if (rule.args === undefined) {
      for (const name of rule.names) {
        if (unconditional.has(name)) throw new Error(`${name} has two unconditional rules`);
        unconditional.set(name, rule.action);
      }
    }
  }
  for (const rule of policy.syscalls) {
    if (rule.args === undefined) continue;
    for (const name of rule.names) {
      // an unconditional rule for the same syscall would make the argument checks moot
      if (unconditional.has(name)) throw new Error(`${name} has both unconditional and argument rules`);
    }
  }
  for (const name of KILL) {
    if (unconditional.get(name) !== ACT_KILL_PROCESS) throw new Error(`${name} is not a tripwire`);
  }
}

/**
 * @param {string} baseText the vendored moby default.json
 * @returns {string} the text of strict.json
 */
export function generate(baseText) {
  /** @type {(text: string) => unknown} */
  const parseJson = JSON.parse;
  const base = /** @type {MobyProfile} */ (parseJson(baseText));
  if (base.defaultAction !== ACT_ERRNO || base.defaultErrnoRet !== EPERM) {
    throw new Error(`unexpected moby default action ${base.defaultAction}/${String(base.defaultErrnoRet)}`);
  }
  /** @type {Rule[]} */
  const syscalls = [];
  for (const rule of base.syscalls) {
    const kept = resolveForAirlock(rule);
    if (kept !== null) syscalls.push(normalizeRule(kept));
  }
  syscalls.push(...airlockRules().map(normalizeRule));
  /** @type {Policy} */
  const policy = {
    defaultAction: base.defaultAction,
    defaultErrnoRet: base.defaultErrnoRet,
    architectures: [...ARCHITECTURES],
    syscalls,
  };
  validate(policy);
  return `${JSON.stringify(policy, null, 2)}\n`;
}

/** @param {string[]} argv */
function main(argv) {
  let out = OUT_PATH;
  let check = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const next = argv[i + 1];
    if (arg === '--out' && next !== undefined) {
      out = resolve(next);
      i++;
    } else if (arg === '--check') {
      check = true;
    } else {
      throw new Error(`usage: generate.mjs [--out FILE] [--check]; got ${String(arg)}`);
    }
  }
  const text = generate(readFileSync(BASE_PATH, 'utf8'));
  if (check) {
    let current = '';
    try {
      current = readFileSync(out, 'utf8');
    } catch {
      // a missing file is stale too
    }
    if (current !== text) {
      console.error(`${out} is stale: run node scripts/seccomp/generate.mjs`);
      process.exit(1);
    }
    console.log(`${out} is up to date`);
    return;
  }
  writeFileSync(out, text);
  console.log(`wrote ${out}`);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2));
}
