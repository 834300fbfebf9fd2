/**
 * The container configuration every job gets. Pure, so it can be asserted in unit tests;
 * docker-runtime.ts is the only place that sends it. Facts behind each choice:
 * ../shared/docs/sandbox-facts.md.
 */
import { randomInt } from 'node:crypto';
import { SAFE_PATH_MAX_DEPTH } from '../shared/index.js';
import { pidsBounds, RUNTIME_OF } from './isolation-runtime.js';
import type { SandboxRun, SandboxSpec } from './sandbox-spec.js';

export const WORK_DIR = '/work';
/**
 * A tmpfs the init user fills at start with the job's passwd and group entries (the images'
 * /etc/passwd and /etc/group link here), so a uid of the job's own still has a name
 * (`whoami`, Node's os.userInfo(), Python's pwd): per container, and not writable by the job.
 */
export const ID_DIR = '/etc/airlock';
/** Where a job granted tools finds `token` and `gateway.sock`. */
export const RUN_DIR = '/run/airlock';

/** Docker 20.10's default masked paths (MaskedPaths replaces them, so resend) plus kernel-info leaks. */
export const MASKED_PATHS = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/proc/kallsyms',
  '/proc/config.gz',
  '/proc/modules',
  '/proc/vmallocinfo',
  '/proc/slabinfo',
  '/sys/kernel',
  // host fingerprints: the host's boot id (stable until it reboots) and its kernel command line
  '/proc/sys/kernel/random/boot_id',
  '/proc/cmdline',
];

export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export const INIT_UID = 10002;
export const LAUNCHER = '/usr/local/bin/airlock-init';

export interface ContainerCreateOptions {
  Image: string;
  Entrypoint: string[];
  Cmd: string[];
  User: string;
  WorkingDir: string;
  Env: string[];
  Labels: Record<string, string>;
  Tty: boolean;
  NetworkDisabled: boolean;
  StopSignal: string;
  HostConfig: Record<string, unknown>;
}

/**
 * The container idles as the init user; the job's command runs as an exec (the engine
 * reports its exit code, so the job cannot forge it), as the job's own uid and gid.
 */
export function containerOptions(spec: SandboxSpec, labels: Record<string, string>): ContainerCreateOptions {
  const l = spec.limits;
  const tmpfsOpts = 'rw,noexec,nosuid,nodev';
  // the job's pids: the cgroup on runc; on gVisor its kernel's RLIMIT_NPROC (isolation-runtime.ts)
  const pids = pidsBounds(spec.isolation ?? 'container', l.pids);
  return {
    Image: spec.imageId,
    Entrypoint: [LAUNCHER],
    Cmd: ['idle', String(spec.uid), String(spec.gid)],
    User: `${INIT_UID}:${INIT_UID}`,
    WorkingDir: WORK_DIR,
    Env: [],
    Labels: labels,
    Tty: false,
    // no network sandbox at all: halves container start (measured 65 vs 139 ms). /etc/hosts and
    // /etc/resolv.conf stay empty (no host DNS leaks); localhost resolves through the images'
    // NSS `myhostname` module
    NetworkDisabled: true,
    StopSignal: 'SIGKILL',
    HostConfig: {
      NetworkMode: 'none',
      Dns: ['127.0.0.1'],
      ReadonlyRootfs: true,
      // tmpfs pages count against the memory limit, so scratch is bounded twice
      Tmpfs: {
        [WORK_DIR]: `${tmpfsOpts},size=${l.scratchBytes},uid=${spec.uid},gid=${spec.gid},mode=0700`,
        '/tmp': `${tmpfsOpts},size=${l.tmpBytes},mode=1777`,
        [ID_DIR]: `${tmpfsOpts},size=${ID_DIR_BYTES},uid=${INIT_UID},gid=${INIT_UID},mode=0755`,
      },
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges', `seccomp=${spec.seccompJson}`],
      Privileged: false,
      Init: true,
      PidsLimit: pids.hostPids,
      Memory: l.memoryBytes,
      MemorySwap: l.memoryBytes,
      NanoCpus: Math.round(l.cpus * 1e9),
      OomScoreAdj: 500,
      OomKillDisable: false,
      IpcMode: 'private',
      ShmSize: l.shmBytes,
      CgroupnsMode: 'private',
      MaskedPaths: MASKED_PATHS,
      ReadonlyPaths: READONLY_PATHS,
      Ulimits: [
        { Name: 'nofile', Soft: l.openFiles, Hard: l.openFiles },
        { Name: 'fsize', Soft: l.fileSizeBytes, Hard: l.fileSizeBytes },
        { Name: 'core', Soft: 0, Hard: 0 },
        ...(pids.nproc === undefined ? [] : [{ Name: 'nproc', Soft: pids.nproc, Hard: pids.nproc }]),
      ],
      // output is read from the attach stream and capped there; the engine keeps no log file
      LogConfig: { Type: 'none', Config: {} },
      // nothing of the host but, for a job granted tools, its own read-only /run/airlock
      Binds: spec.runDir !== undefined ? [`${spec.runDir}:${RUN_DIR}:ro`] : [],
      AutoRemove: false,
      RestartPolicy: { Name: 'no' },
      // the gVisor tier names its runtime (runsc); the plain tier leaves the engine's default (runc)
      ...runtimeOf(spec),
    },
  };
}

function runtimeOf(spec: SandboxSpec): { Runtime?: string } {
  const runtime = RUNTIME_OF[spec.isolation ?? 'container'];
  return runtime === undefined ? {} : { Runtime: runtime };
}

/**
 * The job's command: unpack input from stdin, then exec argv, as the job's own uid and gid. The job's env travels as NAME=VALUE arguments applied only at the final
 * exec: the launcher, tar and patch run with the fixed environment below.
 */
export function runExecOptions(spec: SandboxSpec, run: SandboxRun) {
  return {
    Cmd: [LAUNCHER, 'run', ...Object.entries(run.env).map(([k, v]) => `${k}=${v}`), ...run.argv],
    User: `${spec.uid}:${spec.gid}`,
    WorkingDir: WORK_DIR,
    Env: ['PATH=/usr/local/bin:/usr/bin:/bin', 'HOME=/work', 'LANG=C.UTF-8'],
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
  };
}

/**
 * After the command: stop the job's leftovers (every process of its uid) and stream /work out
 * as a tar, one level deeper than a safe path may be (so what is too deep is seen and reported,
 * and nothing below it is ever read).
 */
export function collectExecOptions(spec: SandboxSpec) {
  return {
    Cmd: [LAUNCHER, 'collect', String(SAFE_PATH_MAX_DEPTH + 1)],
    User: `${spec.uid}:${spec.gid}`,
    WorkingDir: WORK_DIR,
    Env: ['PATH=/usr/local/bin:/usr/bin:/bin', 'LANG=C.UTF-8'],
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
  };
}

/**
 * A uid and primary gid of the job's own (one random number for both, never the init user's).
 * The uid keeps per-user kernel limits per job (inotify instances and watches, user
 * namespaces' counts, RLIMIT_NPROC's count): one job cannot exhaust them for another, nor use
 * them as a covert channel; the collector's `kill -1` reaches only this job's processes; and
 * the kernel's seccomp kill record carries the ids, so a tripwire is attributed to exactly
 * this job, also when a child process trips it.
 */
export function jobIds(): { uid: number; gid: number } {
  const id = JOB_ID_BASE + randomInt(JOB_ID_SPAN);
  return { uid: id, gid: id };
}
export const JOB_ID_BASE = 200_000;
export const JOB_ID_SPAN = 1_000_000_000;
/** Room for the passwd and group files the init user writes (a few hundred bytes). */
const ID_DIR_BYTES = 64 * 1024;
