/**
 * `airlock selftest`: a compact red-team and compatibility run against the LIVE
 * configuration (this engine, the built images, the profiles and seccomp policy on disk).
 * An operator runs it after changing any of them. Prints a table; non-zero on any failure.
 * Every case runs on each isolation tier the engine has (the gVisor rows through the runtime's
 * `-gvisor` profile); a tier the engine lacks is named as not run (setup says why).
 */
import { randomBytes } from 'node:crypto';
import type { Config } from '../config.js';
import { loadProfiles, type LoadedProfile } from '../profiles/index.js';
import { DockerRuntime, JOB_ID_BASE, jobIds, loadImageCatalog, runSandbox, type SandboxResult } from '../sandbox/index.js';
import { createLogger } from '../shared/index.js';

interface Case {
  readonly name: string;
  readonly profile: 'python' | 'node' | 'shell';
  readonly argv: string[];
  readonly files?: Record<string, string>;
  readonly outputs?: string[];
  readonly limits?: Partial<LoadedProfile['profile']['limits']>;
  readonly expected: string;
  /** The expected value on the gVisor tier, where its contained outcome differs (docs/isolation.md). */
  readonly gvisor?: string;
  readonly check: (r: SandboxResult) => string; // the observed value; equal to `expected` passes
}

const out = (r: SandboxResult) => r.stdout.toString('utf8').trim();
const outcome = (r: SandboxResult) => (r.outcome === 'exited' ? `exited ${r.exitCode}` : r.outcome);
const py = (code: string) => ({ profile: 'python' as const, argv: ['python3', 'main.py'], files: { 'main.py': code } });
/** gVisor: runsc applies no seccomp policy to an exec'd process, so gVisor's kernel answers the call (`gvisor`: that outcome). */
const tripwire = (name: string, code: string, gvisor: string): Case => ({
  name,
  ...py(`import ctypes, socket\nlibc = ctypes.CDLL(None, use_errno=True)\n${code}\nprint("survived")`),
  expected: 'policy_violation',
  gvisor,
  check: outcome,
});

export const SELFTEST_CASES: readonly Case[] = [
  { name: 'python runs', ...py('print("ok")'), expected: 'exited 0: ok', check: (r) => `${outcome(r)}: ${out(r)}` },
  { name: 'node runs', profile: 'node', argv: ['node', 'main.js'], files: { 'main.js': 'console.log("ok")' }, expected: 'exited 0: ok', check: (r) => `${outcome(r)}: ${out(r)}` },
  {
    name: 'non-root, no capabilities',
    profile: 'shell',
    argv: ['sh', '-c', 'grep -E "^(Uid|CapEff|NoNewPrivs|Seccomp):" /proc/self/status | tr -s "\\t " " "'],
    expected: "Uid: the job's own ×4|CapEff: 0000000000000000|NoNewPrivs: 1|Seccomp: 2",
    // gVisor's /proc/<pid>/status has no NoNewPrivs line (no_new_privs is still set by the engine)
    gvisor: "Uid: the job's own ×4|CapEff: 0000000000000000|Seccomp: 2",
    // each job runs as a uid of its own (random, from JOB_ID_BASE up)
    check: (r) =>
      out(r)
        .split('\n')
        .map((l) => {
          const uid = /^Uid: (\d+) \1 \1 \1$/.exec(l)?.[1];
          return uid !== undefined && Number(uid) >= JOB_ID_BASE ? "Uid: the job's own ×4" : l;
        })
        .join('|'),
  },
  {
    name: 'no network (TCP connect)',
    ...py('import socket\ntry:\n    socket.create_connection(("1.1.1.1", 80), timeout=2); print("connected")\nexcept OSError as e:\n    print("blocked")'),
    expected: 'blocked',
    check: out,
  },
  tripwire('ptrace is a tripwire', 'libc.ptrace(0, 0, 0, 0)', 'exited 0'),
  tripwire('memfd_create is a tripwire', 'libc.memfd_create(b"x", 0)', 'exited 0'),
  // gVisor: EAFNOSUPPORT, an uncaught OSError
  tripwire('AF_VSOCK is a tripwire', 'socket.socket(40, socket.SOCK_STREAM)', 'exited 1'),
  tripwire('unshare is a tripwire', 'libc.unshare(0x10000000)', 'exited 0'),
  {
    name: 'read-only root, noexec scratch',
    profile: 'shell',
    argv: ['sh', '-c', '(echo x > /etc/x) 2>/dev/null && echo wrote-etc; cp /bin/true /work/t; chmod +x /work/t; /work/t 2>/dev/null && echo exec-scratch; echo done'],
    expected: 'done',
    check: out,
  },
  {
    name: 'no setuid files, no docker.sock',
    profile: 'shell',
    argv: ['sh', '-c', 'find / -xdev -perm /6000 -type f 2>/dev/null; ls /var/run/docker.sock /run/docker.sock 2>/dev/null; echo done'],
    expected: 'done',
    check: out,
  },
  { name: 'fork bomb is contained', profile: 'shell', argv: ['bash', '-c', 'f(){ f | f & }; f'], limits: { timeoutMs: 2000, pids: 64 }, expected: 'timeout', check: outcome },
  { name: 'memory bomb ends as oom', ...py('a = []\nwhile True:\n    a.append(bytearray(8 << 20))'), limits: { memoryBytes: 64 << 20 }, expected: 'oom', check: outcome },
  { name: 'output flood ends as output_limit', profile: 'shell', argv: ['yes'], limits: { stdoutBytes: 65536 }, expected: 'output_limit', check: outcome },
  { name: 'wall clock kills a sleeper', profile: 'shell', argv: ['sh', '-c', "trap '' TERM; sleep 30"], limits: { timeoutMs: 1000 }, expected: 'timeout', check: outcome },
  {
    name: 'python compatibility',
    ...py(
      'import multiprocessing, sqlite3, ssl, ctypes, asyncio, subprocess, threading\nwith multiprocessing.Pool(2) as p: assert p.map(abs, [-1, -2]) == [1, 2]\nsqlite3.connect(":memory:").execute("select 1")\nssl.create_default_context()\nasyncio.run(asyncio.sleep(0))\nsubprocess.run(["true"], check=True)\nprint("ok")',
    ),
    expected: 'ok',
    check: out,
  },
  {
    name: 'node compatibility',
    profile: 'node',
    argv: ['node', 'main.js'],
    files: {
      'main.js':
        'const { Worker } = require("worker_threads"); require("os").networkInterfaces(); require("zlib").gzipSync("x"); require("crypto").randomBytes(4);\nWebAssembly.compile(new Uint8Array([0,97,115,109,1,0,0,0])).then(() => new Worker("process.exit(0)", { eval: true }).on("exit", () => console.log("ok")));',
    },
    expected: 'ok',
    check: out,
  },
  {
    name: 'symlink artifact is refused',
    profile: 'shell',
    argv: ['sh', '-c', 'ln -s /etc/passwd leak; echo fine > ok.txt'],
    outputs: ['leak', 'ok.txt'],
    expected: 'ok.txt collected; leak refused (symlink)',
    check: (r) => `${r.artifacts.map((a) => a.path).join(',')} collected; ${r.artifactsRejected.map((x) => `${x.path} refused (${x.reason})`).join(',')}`,
  },
];

export async function runSelftest(config: Config, print: (line: string) => void): Promise<number> {
  const profiles = loadProfiles(config.profilesDir);
  const images = loadImageCatalog(config.dataDir);
  const runId = randomBytes(4).toString('hex');
  const runtime = new DockerRuntime({
    socketPath: config.docker.socketPath,
    workerId: `selftest-${runId}`,
    deployment: `selftest-${runId}`,
    logger: createLogger({ level: 'silent' }),
  });
  await runtime.ping();

  const rows: { name: string; order: number; expected: string; observed: string; pass: boolean }[] = [];
  const engineTiers = await runtime.isolations();
  const tiers = (['container', 'gvisor'] as const).filter((tier) => engineTiers.includes(tier));
  const queue = tiers.flatMap((tier, t) => SELFTEST_CASES.map((c, i) => ({ c, tier, order: t * SELFTEST_CASES.length + i })));
  const worker = async () => {
    for (let q = queue.shift(); q !== undefined; q = queue.shift()) {
      const { c, tier, order } = q;
      const name = tier === 'gvisor' ? `${c.name} (gvisor)` : c.name;
      const expected = tier === 'gvisor' ? (c.gvisor ?? c.expected) : c.expected;
      const loaded = profiles.get(tier === 'gvisor' ? `${c.profile}-gvisor` : c.profile);
      const imageId = loaded ? images.get(loaded.profile.image) : undefined;
      let observed: string;
      if (loaded === undefined || imageId === undefined) observed = `profile or image ${c.profile} missing`;
      else {
        try {
          const limits = { ...loaded.profile.limits, timeoutMs: 10_000, ...c.limits };
          const r = await runSandbox(
            runtime,
            { jobId: `job_selftest${runId}${order}`, imageId, ...jobIds(), limits, seccompJson: loaded.seccompJson, isolation: loaded.profile.isolation },
            {
              argv: c.argv,
              files: Object.entries(c.files ?? {}).map(([path, content]) => ({ path, content: Buffer.from(content) })),
              stdin: new Uint8Array(),
              env: {},
              limits,
              ...(c.outputs ? { outputs: c.outputs } : {}),
            },
          );
          observed = c.check(r);
        } catch (err) {
          observed = `error: ${(err as Error).message}`;
        }
      }
      rows.push({ name, order, expected, observed, pass: observed === expected });
    }
  };
  await Promise.all([worker(), worker()]);

  rows.sort((a, b) => a.order - b.order);
  const w = (k: 'name' | 'expected' | 'observed') => Math.min(48, Math.max(k.length, ...rows.map((r) => r[k].length)));
  const cell = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s.padEnd(n));
  print([cell('CASE', w('name')), cell('EXPECTED', w('expected')), cell('OBSERVED', w('observed')), 'RESULT'].join('  '));
  for (const r of rows) print([cell(r.name, w('name')), cell(r.expected, w('expected')), cell(r.observed, w('observed')), r.pass ? 'pass' : 'FAIL'].join('  '));
  const failed = rows.filter((r) => !r.pass);
  for (const tier of ['container', 'gvisor'] as const) if (!tiers.includes(tier)) print(`the ${tier} tier was not run: this engine cannot run it (npm run setup says why)`);
  print(`${rows.length - failed.length} passed, ${failed.length} failed`);
  for (const f of failed) print(`FAIL ${f.name}: expected ${f.expected}, observed ${f.observed}`);
  return failed.length === 0 ? 0 : 1;
}
