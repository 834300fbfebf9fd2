/**
 * Red team: one hostile program per case (test/redteam/*), run as a real job through the real
 * API, queue and engine. Each case asserts the exact contained outcome (status and markers the
 * program prints), that nothing outside the sandbox changed where it could have, and that the
 * job's container is gone. Cases run concurrently on a 3-job worker; limits are small so the
 * whole file stays fast.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createConnection } from 'node:net';
import { hostname } from 'node:os';
import { extname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docker, runJob, startTestAirlock, type TestAirlock } from './helpers/airlock.js';
import { byTier, GVISOR, on, TIER } from './helpers/isolation.js';

const MiB = 1024 * 1024;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const HOST_CANARY = `canary-${randomBytes(12).toString('hex')}`;
let t: TestAirlock;
let key: string;

beforeAll(async () => {
  // a secret in the environment the worker is configured from (a tool secret, AIRLOCK_SECRET_*,
  // granted to no job): no job may ever see it. Handed to its configuration, never set on this process.
  t = await startTestAirlock('redteam', { AIRLOCK_WORKER_CONCURRENCY: '3', AIRLOCK_SECRET_REDTEAM_HOST_CANARY: HOST_CANARY });
  key = (await t.key('agent')).key;
});
afterAll(async () => {
  try {
    if (t) expect(await t.containers()).toEqual([]);
  } finally {
    await t?.stop();
  }
});

const RUNTIMES: Record<string, { runtime: 'python' | 'node' | 'shell'; main: string }> = {
  '.py': { runtime: 'python', main: 'main.py' },
  '.js': { runtime: 'node', main: 'main.js' },
  '.sh': { runtime: 'shell', main: 'main.sh' },
};

const program = (name: string) => readFileSync(new URL(`./redteam/${name}`, import.meta.url), 'utf8');

/** A job body running test/redteam/<name> with the profile's default command and small limits. */
function hostile(name: string, extra: { limits?: Record<string, number>; [k: string]: unknown } = {}): Record<string, unknown> {
  const r = RUNTIMES[extname(name)];
  if (r === undefined) throw new Error(`no runtime for ${name}`);
  const { limits, ...rest } = extra;
  return { ...on(r.runtime), files: [{ path: r.main, content: program(name) }], timeoutMs: 5000, ...rest, limits: { memoryBytes: 128 * MiB, pids: 64, ...limits } };
}

/** Runs a hostile program to its end state and checks its container is gone. */
async function run(name: string, extra: Parameters<typeof hostile>[1] = {}): Promise<any> {
  const job = await runJob(t, key, hostile(name, extra), 60);
  expect(await t.containers(job.id)).toEqual([]);
  // it ran on the suite's tier, never another
  expect({ status: job.status, isolation: job.isolation, error: job.error }).toMatchObject({ isolation: TIER });
  return job;
}

/** Submits without waiting and returns once the worker has started it. */
async function startRunning(body: Record<string, unknown>): Promise<string> {
  const submitted = await t.request('POST', '/v1/jobs', key, body);
  expect(submitted.status).toBe(202);
  const id = submitted.body.id as string;
  for (let i = 0; i < 200; i++) {
    const job = (await t.request('GET', `/v1/jobs/${id}`, key)).body;
    if (job.status !== 'queued') return id;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`job ${id} never started`);
}

async function finished(id: string): Promise<any> {
  for (;;) {
    const job = (await t.request('GET', `/v1/jobs/${id}?wait=30`, key)).body;
    if (job.status !== 'queued' && job.status !== 'running') {
      expect(await t.containers(id)).toEqual([]);
      return job;
    }
  }
}

/** Ports with a listening TCP socket on the host (IPv4 and IPv6). */
function hostListeningPorts(): Set<number> {
  const ports = new Set<number>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] === '0A') ports.add(parseInt(cols[1]!.split(':').pop()!, 16));
    }
  }
  return ports;
}

function hostConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve('connected');
    });
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
}

/**
 * A tripwire syscall. Plain tier: the seccomp policy kills the process (SIGSYS), and the host
 * kernel's record confirms it. gVisor: runsc applies no seccomp policy to an exec'd process (every
 * job is one: scripts/setup-gvisor.sh), so the call reaches gVisor's kernel, never the host's, and
 * `gvisor` is its answer, exact: a refusal, or what it emulates inside the sandbox (a user namespace
 * or a ptrace of its own). The programs print ESCAPED for any return; under gVisor that is the
 * answer of the user-space kernel, which is the boundary of that tier.
 */
const tripwire = (name: string, marker: string, gvisor: { status: string; exitCode: number; after: string; stderr?: RegExp }) => async () => {
  const job = await run(name);
  if (GVISOR) {
    expect(job).toMatchObject({ status: gvisor.status, exitCode: gvisor.exitCode, stdout: `${marker}\n${gvisor.after}` });
    if (gvisor.stderr) expect(job.stderr).toMatch(gvisor.stderr);
    // no seccomp kill happened, and none is claimed
    expect(job.violation).toBeUndefined();
    return;
  }
  expect(job).toMatchObject({ status: 'policy_violation', exitCode: 159, stdout: `${marker}\n` });
  // the kernel's own record, whatever else the kernel logs at the time (see 'tripwire evidence')
  expect(job.violation).toMatchObject({ verified: true });
  expect(job.stdout).not.toContain('ESCAPED');
};
const EAFNOSUPPORT = /OSError: \[Errno 97\] Address family not supported by protocol/;

/** The findings the worker recorded for a job (its job.finish audit record). */
async function findingsOf(id: string): Promise<{ kind: string; severity: string }[]> {
  const res = await t.request('GET', `/v1/jobs/${id}/audit?limit=100`, key);
  expect(res.status).toBe(200);
  const finish = (res.body.records as { action: string; details?: { findings?: { kind: string; severity: string }[] } }[]).find((r) => r.action === 'job.finish');
  return finish?.details?.findings ?? [];
}

// Seccomp evidence comes from the kernel's audit records, read before the kernel log's host-wide
// rate limit (10 per 5 s) drops them, and is looked for whatever the run's outcome.
/** inotify instances held by the processes of a job's container (counted by the host, in /proc). */
async function inotifyInstances(jobId: string): Promise<number> {
  return GVISOR ? inotifyInGvisor(jobId) : inotifyOnHost(jobId);
}

async function inotifyOnHost(jobId: string): Promise<number> {
  let n = 0;
  for (const c of await t.containers(jobId)) {
    // 409 until the container runs
    const top = await docker
      .getContainer(c.Id)
      .top()
      .catch(() => ({ Titles: ['PID'], Processes: [] as string[][] }));
    const pidColumn = top.Titles.indexOf('PID');
    for (const row of top.Processes) {
      const fdDir = `/proc/${row[pidColumn]}/fd`;
      try {
        for (const fd of readdirSync(fdDir)) if (readlinkSync(`${fdDir}/${fd}`) === 'anon_inode:inotify') n += 1;
      } catch {
        // the process is gone
      }
    }
  }
  return n;
}

/** gVisor's inotify instances live in its kernel, not the host's: counted from inside the job's sandbox (an exec as root there; gVisor names them anon_inode:[inotifyfd:N]). */
async function inotifyInGvisor(jobId: string): Promise<number> {
  const count = "import glob,os\nn=0\nfor p in glob.glob('/proc/[0-9]*/fd/*'):\n  try: n+=os.readlink(p).startswith('anon_inode:[inotifyfd:')\n  except OSError: pass\nprint(n)";
  let n = 0;
  for (const c of await t.containers(jobId)) {
    try {
      const exec = await docker.getContainer(c.Id).exec({ Cmd: ['python3', '-c', count], User: '0', AttachStdout: true, AttachStderr: true });
      const stream = await exec.start({});
      const chunks: Buffer[] = [];
      await new Promise((resolve) => {
        stream.on('data', (d: Buffer) => chunks.push(d));
        stream.on('end', resolve);
        stream.on('error', resolve);
      });
      // the engine's multiplexed stream: 8-byte frame headers around the text
      n += Number(/(\d+)\s*$/.exec(Buffer.concat(chunks).toString('latin1'))?.[1] ?? 0);
    } catch {
      // not running yet, or gone
    }
  }
  return n;
}

// Per-user kernel limits (inotify instances, user watches, RLIMIT_NPROC's count) are per uid,
// host-wide: each job runs as a uid of its own, so one job cannot use them up for another.
describe('a uid of its own per job', () => {
  it('a job holding every inotify instance its uid may have does not starve a concurrent job', async () => {
    const hog = await startRunning(hostile('inotify-hog.py', { timeoutMs: 30_000 }));
    for (let i = 0; i < 200 && (await inotifyInstances(hog)) < 100; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await inotifyInstances(hog)).toBeGreaterThanOrEqual(100);
    const victim = await run('inotify-one.py');
    expect(victim).toMatchObject({ status: 'succeeded', stdout: 'REDTEAM inotify one: ok\n' });
    expect((await t.request('DELETE', `/v1/jobs/${hog}`, key)).status).toBe(202);
    expect(await finished(hog)).toMatchObject({ status: 'killed', stdout: 'REDTEAM inotify hog: all\n' });
  });
});

describe('tripwire evidence', () => {
  it("one job tripping the policy in a loop does not hide another job's single violation", async () => {
    const flooder = await startRunning(hostile('tripwire-flood.py', { timeoutMs: 15_000 }));
    // let the flood run out the kernel log's budget before the victim trips
    await new Promise((r) => setTimeout(r, 1500));
    const victim = await run('tripwire-child.py');
    expect(victim.stdout).toBe('REDTEAM tripwire in a child\nparent exits 0\n');
    const flood = await finished(flooder);
    if (GVISOR) {
      // gVisor's kernel answers ptrace (no seccomp policy on an exec'd process): nothing is killed, so there is no evidence to hide
      expect(victim).toMatchObject({ status: 'succeeded', exitCode: 0 });
      expect(flood).toMatchObject({ status: 'succeeded', stdout: 'REDTEAM tripwire flood\nkilled children: 0\n' });
      for (const job of [victim, flood]) expect(job.violation).toBeUndefined();
      expect(await findingsOf(victim.id)).not.toContainEqual(expect.objectContaining({ kind: 'policy_violation' }));
      return;
    }
    expect(victim).toMatchObject({ status: 'policy_violation', exitCode: 0, violation: { syscall: 'ptrace', verified: true } });
    expect(await findingsOf(victim.id)).toContainEqual(expect.objectContaining({ kind: 'policy_violation', severity: 'high' }));
    expect(flood).toMatchObject({ status: 'policy_violation', violation: { syscall: 'ptrace', verified: true } });
    expect(flood.stdout).toBe('REDTEAM tripwire flood\nkilled children: many\n');
  });
});

describe.concurrent('tripwire evidence whatever the outcome', () => {
  it('a child trips the policy, then the job times out: timeout, with the violation and a high finding', async () => {
    const job = await run('tripwire-then-timeout.py', { timeoutMs: 2000 });
    expect(job).toMatchObject({ status: 'timeout', stdout: 'REDTEAM tripwire then timeout\n' });
    // gVisor: its kernel answers the child's ptrace (see tripwire()), so there is no violation to report
    if (GVISOR) return expect(job.violation).toBeUndefined();
    expect(job).toMatchObject({ violation: { syscall: 'ptrace', verified: true } });
    expect(await findingsOf(job.id)).toContainEqual(expect.objectContaining({ kind: 'policy_violation', severity: 'high' }));
  });

  it('a child trips the policy, then the job floods stdout: output_limit, with the violation and a high finding', async () => {
    const job = await run('tripwire-then-output-limit.py', { limits: { stdoutBytes: 4096 } });
    expect(job).toMatchObject({ status: 'output_limit', stdoutTruncated: true });
    expect(job.stdout.startsWith('REDTEAM tripwire then output limit\n')).toBe(true);
    if (GVISOR) return expect(job.violation).toBeUndefined();
    expect(job).toMatchObject({ violation: { syscall: 'ptrace', verified: true } });
    expect(await findingsOf(job.id)).toContainEqual(expect.objectContaining({ kind: 'policy_violation', severity: 'high' }));
  });
});

describe.concurrent('escape', () => {
  // gVisor: a user namespace of gVisor's kernel, root only there
  it(
    'unshare -U (util-linux) is killed by the tripwire: policy_violation',
    tripwire('unshare-cli.sh', 'REDTEAM unshare -U', { status: 'succeeded', exitCode: 0, after: 'ESCAPED: root in a user namespace\nuid=0(root) gid=0(root) groups=0(root)\n' }),
  );
  it(
    'unshare(CLONE_NEWUSER) via ctypes: policy_violation',
    tripwire('unshare-ctypes.py', 'REDTEAM unshare(CLONE_NEWUSER)', { status: 'succeeded', exitCode: 0, after: 'ESCAPED: unshare returned 0 0\n' }),
  );
  // gVisor: EPERM, nothing mounted
  it('mount(2) of a tmpfs: policy_violation', tripwire('mount.py', 'REDTEAM mount tmpfs', { status: 'succeeded', exitCode: 0, after: 'ESCAPED: mount returned -1 1\n' }));
  // gVisor: its kernel traces its own processes
  it(
    'ptrace(PTRACE_TRACEME): policy_violation',
    tripwire('ptrace.py', 'REDTEAM ptrace(PTRACE_TRACEME)', { status: 'succeeded', exitCode: 0, after: 'ESCAPED: ptrace returned 0 0\n' }),
  );
  // gVisor: no such address family (EAFNOSUPPORT)
  it('socket(AF_VSOCK): policy_violation', tripwire('vsock.py', 'REDTEAM socket(AF_VSOCK)', { status: 'failed', exitCode: 1, after: '', stderr: EAFNOSUPPORT }));
  it('socket(AF_ALG): policy_violation', tripwire('af-alg.py', 'REDTEAM socket(AF_ALG)', { status: 'failed', exitCode: 1, after: '', stderr: EAFNOSUPPORT }));
  // gVisor: EACCES, no keyring
  it(
    'keyctl(2): policy_violation',
    tripwire('keyctl.py', 'REDTEAM keyctl(KEYCTL_GET_KEYRING_ID)', { status: 'succeeded', exitCode: 0, after: 'ESCAPED: keyctl returned -1 13\n' }),
  );
  // gVisor: the memfd and its exec are its kernel's (a copy of /bin/echo runs inside the sandbox)
  it(
    'memfd_create then exec (fileless): policy_violation before anything runs',
    tripwire('memfd-exec.py', 'REDTEAM memfd_create', { status: 'succeeded', exitCode: 0, after: 'ESCAPED: memfd 3\nESCAPED: ran from a memfd\n' }),
  );
  // gVisor: EPERM
  it('bpf(2): policy_violation', tripwire('bpf.py', 'REDTEAM bpf(BPF_PROG_LOAD)', { status: 'succeeded', exitCode: 0, after: 'ESCAPED: bpf returned -1 1\n' }));
  // gVisor: ENOSYS, x32 is not implemented
  it(
    'a syscall through the x32 ABI: policy_violation (native architecture only)',
    tripwire('x32-abi.py', 'REDTEAM x32 getpid', { status: 'succeeded', exitCode: 0, after: 'ESCAPED: x32 syscall returned -1 38\n' }),
  );

  it('io_uring_setup gets ENOSYS (no kill, no ring)', async () => {
    const job = await run('io-uring.py');
    // gVisor implements io_uring in its own kernel: the ring is its, the host's io_uring is never reached
    const answer = byTier({ container: 'io_uring_setup: ENOSYS', gvisor: 'ESCAPED: io_uring fd 3' });
    expect(job).toMatchObject({ status: 'succeeded', stdout: `REDTEAM io_uring_setup\n${answer}\n` });
  });

  it('a dropped binary or library cannot run from /work, /tmp or /dev/shm (exec, ld.so, dlopen)', async () => {
    const job = await run('noexec.py');
    expect(job.status).toBe('succeeded');
    if (!GVISOR) expect(job.stdout).not.toContain('ESCAPED');
    for (const d of ['/work', '/tmp', '/dev/shm']) {
      expect(job.stdout).toContain(`noexec ${d}: exec denied\n`);
      // gVisor's kernel refuses execve from a noexec mount but maps such a file executable (ld.so, dlopen): code dropped there runs, inside gVisor
      expect(job.stdout).toContain(byTier({ container: `noexec ${d}: ld.so cannot map it\n`, gvisor: `ESCAPED: ld.so ${d}\n` }));
      expect(job.stdout).toContain(byTier({ container: `noexec ${d}: dlopen denied\n`, gvisor: `ESCAPED: dlopen ${d}\n` }));
    }
  });

  it('setuid hunting finds no setuid/setgid file and no file capability', async () => {
    const job = await run('setuid-hunt.py', { timeoutMs: 15000 });
    expect(job.status).toBe('succeeded');
    expect(job.stdout).not.toContain('FOUND');
    const m = /scanned (\d+) files, found (\d+)/.exec(job.stdout);
    expect(Number(m?.[1])).toBeGreaterThan(1000);
    expect(m?.[2]).toBe('0');
  });

  it('docker.sock hunting finds no engine (or any other) socket', async () => {
    const job = await run('docker-sock-hunt.py', { timeoutMs: 15000 });
    expect(job.status).toBe('succeeded');
    expect(job.stdout).toBe('REDTEAM docker.sock hunt\nsockets found: 0 abstract: 0\n');
  });

  it('host-control files (cgroup release_agent, notify_on_release, core_pattern, sysrq, modprobe) are read-only', async () => {
    const job = await run('host-control.sh');
    expect(job.status).toBe('succeeded');
    expect(job.stdout).not.toContain('ESCAPED');
    // gVisor has no /sys/fs/cgroup at all (the loop sees the unexpanded glob): nothing to write
    const cgroup = byTier({ container: '/sys/fs/cgroup/memory', gvisor: '/sys/fs/cgroup/*' });
    for (const f of [
      `${cgroup}/release_agent`,
      `${cgroup}/notify_on_release`,
      '/proc/sys/kernel/core_pattern',
      '/proc/sysrq-trigger',
      '/proc/sys/kernel/modprobe',
      '/sys/kernel/uevent_helper',
    ]) {
      expect(job.stdout).toContain(`denied ${f}\n`);
    }
    expect(job.stdout).toContain(`denied mkdir ${cgroup}\n`);
    expect(job.stdout).toMatch(/done\n$/);
  });

  it('kernel information is masked: kallsyms, modules, config, slabinfo, keys read empty; /sys/kernel is empty', async () => {
    const job = await run('kernel-info.sh');
    expect(job.status).toBe('succeeded');
    for (const f of ['kallsyms', 'modules', 'config.gz', 'slabinfo', 'vmallocinfo', 'keys', 'timer_list', 'kcore', 'sched_debug']) {
      expect(job.stdout).toMatch(new RegExp(`^/proc/${f}: (absent|0 bytes)$`, 'm'));
    }
    expect(job.stdout).toContain('/sys/kernel entries: 0\n');
    expect(job.stdout).toContain('/sys/firmware entries: 0\n');
    expect(job.stdout).toContain('denied /proc/kmsg\n');
    expect(job.stdout).toContain('no /dev/kmsg\n');
    expect(job.stdout).not.toContain('ESCAPED');
  });

  // What stays visible is documented in the README's threat table: the overlay root's
  // /var/lib/docker layer paths, and the engine's own binds of /etc/hostname (with the container
  // id) and docker-init (Docker 20.10 always adds both), on the host's block device.
  it("the host's boot id and kernel command line are masked; mountinfo shows only the engine's unavoidable host paths", async () => {
    const job = await run('host-fingerprint.sh');
    expect(job.status).toBe('succeeded');
    // gVisor: no boot_id at all, its own kernel's command line, and an empty uuid
    expect(job.stdout).toMatch(byTier({ container: /^boot_id: \n/m, gvisor: /^boot_id: cat: \/proc\/sys\/kernel\/random\/boot_id: No such file or directory\n/m }));
    expect(job.stdout).toContain(byTier({ container: 'cmdline: \n', gvisor: 'cmdline: BOOT_IMAGE=/vmlinuz-4.4.0-gvisor quiet\n' }));
    expect(job.stdout).toContain(byTier({ container: 'uuid: 37 bytes\n', gvisor: 'uuid: 0 bytes\n' }));
    expect(job.stdout).not.toContain(readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
    expect(job.stdout).not.toContain(readFileSync('/proc/cmdline', 'utf8').trim());
    // mountinfo: `id parent major:minor root mountpoint options [tags] - fstype source superoptions`
    const mounts = job.stdout
      .split('\n')
      .filter((l: string) => / - /.test(l))
      .map((l: string) => {
        const [before, after] = l.split(' - ');
        return { root: before!.split(' ')[3], at: before!.split(' ')[4], fstype: after!.split(' ')[0] };
      });
    const fromHostDisk = mounts.filter((m: { fstype: string }) => !['overlay', 'proc', 'tmpfs', 'devpts', 'sysfs', 'cgroup', 'cgroup2', 'mqueue'].includes(m.fstype));
    // gVisor: the root too comes from the host, through its gofer (9p), read-only
    expect(fromHostDisk.map((m: { at: string }) => m.at).sort()).toEqual(
      byTier({ container: ['/etc/hostname', '/usr/sbin/docker-init'], gvisor: ['/', '/etc/hostname', '/usr/sbin/docker-init'] }),
    );
  });

  it("the host's runtime binaries and the engine's bind mounts cannot be overwritten (CVE-2019-5736 style)", async () => {
    const job = await run('runtime-binaries.sh');
    expect(job.status).toBe('succeeded');
    expect(job.stdout).not.toContain('ESCAPED');
    for (const f of ['/sbin/docker-init', '/proc/1/exe', '/usr/local/bin/airlock-init', '/etc/hostname', '/etc/hosts', '/etc/resolv.conf', '/etc/passwd', '/bin/sh']) {
      expect(job.stdout).toContain(`denied ${f}\n`);
    }
    expect(job.stdout).toContain('denied /proc/1/root\n');
  });

  it('no path inside the sandbox reaches the host /tmp', async () => {
    const id = randomBytes(6).toString('hex');
    const hostPath = `/tmp/airlock-redteam-${id}`;
    const job = await run('host-write.sh', { env: { REDTEAM_ID: id } });
    expect(job.status).toBe('succeeded');
    expect(job.stdout).toContain(`wrote (inside the sandbox) /tmp/airlock-redteam-${id}\n`);
    expect(job.stdout).toContain(`denied /proc/1/root/tmp/airlock-redteam-${id}\n`);
    expect(job.stdout).toContain(`denied /proc/1/cwd/../tmp/airlock-redteam-${id}\n`);
    expect(existsSync(hostPath)).toBe(false);
  });

  it('no host device is visible and none can be created', async () => {
    const job = await run('devices.sh');
    expect(job.status).toBe('succeeded');
    // gVisor's /dev has its own kernel's fuse and tun (network none: no interface behind it), no host device
    const present = byTier({ container: [], gvisor: ['ESCAPED: /dev/fuse present', 'ESCAPED: /dev/net/tun present'] });
    const lines = job.stdout.split('\n');
    expect(lines.slice(1, 1 + present.length)).toEqual(present);
    expect(job.stdout.split('ESCAPED').length - 1).toBe(present.length);
    expect(job.stdout).toContain('denied mknod block\n');
    expect(job.stdout).toContain('denied mknod char\n');
    const devs = lines[1 + present.length]!.trim().split(' ').sort();
    const common = ['fd', 'full', 'null', 'ptmx', 'pts', 'random', 'shm', 'stderr', 'stdin', 'stdout', 'tty', 'urandom', 'zero'];
    expect(devs).toEqual(byTier({ container: [...common, 'mqueue'], gvisor: [...common, 'fuse', 'net'] }).sort());
  });

  it('a job cannot see, read or signal another job running at the same time', async () => {
    const secret = `victim-${randomBytes(6).toString('hex')}`;
    const victimId = await startRunning(hostile('cross-job-victim.sh', { env: { REDTEAM_SECRET: secret }, timeoutMs: 10000 }));
    await new Promise((r) => setTimeout(r, 500)); // let the victim plant its secrets
    const spy = await run('cross-job-spy.sh', { env: { REDTEAM_SECRET: secret } });
    const victim = await finished(victimId);
    expect(spy.status).toBe('succeeded');
    expect(spy.stdout).toBe('REDTEAM cross-job spy\nfound 0\n');
    expect(victim).toMatchObject({ status: 'succeeded', stdout: 'REDTEAM cross-job victim\nplanted\nundisturbed\n' });
    // the spy really ran while the victim was alive
    expect(Date.parse(spy.startedAt)).toBeGreaterThan(Date.parse(victim.startedAt));
    expect(Date.parse(spy.finishedAt)).toBeLessThan(Date.parse(victim.finishedAt));
  });
});

describe.concurrent('resource exhaustion', () => {
  it('a fork bomb is held by PidsLimit and ends as timeout; a concurrent job is unaffected', async () => {
    const bombId = await startRunning(hostile('fork-bomb.sh', { timeoutMs: 4000, limits: { pids: 32 } }));
    const hello = await runJob(t, key, { ...on('python'), files: [{ path: 'main.py', content: 'print("hello while a bomb goes off")' }] });
    expect(hello).toMatchObject({ status: 'succeeded', stdout: 'hello while a bomb goes off\n' });
    // no bound on either job's duration: next to the other bombs of this concurrent block it would
    // measure the machine's load (the bomb took 14 s on gVisor in CI), not the cap
    const bomb = await finished(bombId);
    // (whether hello ran during the bomb depends on free worker slots under concurrent tests)
    expect(bomb).toMatchObject({ status: 'timeout', stdout: 'REDTEAM fork bomb\n' });
    // the cap was really reached: the bomb's own forks were refused
    expect(bomb.stderr).toContain('Cannot fork');
  });

  it('a memory bomb ends as oom', async () => {
    const job = await run('memory-bomb.py', { limits: { memoryBytes: 64 * MiB } });
    expect(job.status).toBe('oom');
    expect(job.stdout).toMatch(/^REDTEAM memory bomb\n/);
    const last = [...job.stdout.matchAll(/allocated (\d+) MiB/g)].map((m) => Number(m[1])).pop() ?? 0;
    expect(last).toBeLessThan(64);
  });

  it('filling /work hits ENOSPC at scratchBytes and the job carries on to its own end', async () => {
    const job = await run('scratch-fill.sh', { limits: { scratchBytes: 8 * MiB } });
    expect(job.status).toBe('succeeded');
    expect(job.stdout).toContain('dd exit 1\n');
    expect(job.stdout).toContain('still full\n');
    expect(job.stdout).toContain('recovered\n');
    const kib = Number(/filled (\d+) KiB/.exec(job.stdout)?.[1]);
    expect(kib).toBeGreaterThan(7 * 1024);
    expect(kib).toBeLessThanOrEqual(8 * 1024);
    expect(job.stderr).toContain('No space left on device');
    expect(job.durationMs).toBeLessThan(5000);
  });

  it('/dev/shm is capped by shmBytes', async () => {
    const job = await run('shm-fill.py', { limits: { shmBytes: 4 * MiB } });
    expect(job).toMatchObject({ status: 'succeeded', stdout: 'REDTEAM shm fill\nstopped: ENOSPC after 4 MiB\n' });
  });

  it('one huge file is stopped by fileSizeBytes: SIGXFSZ kills dd', async () => {
    const job = await run('huge-file.sh', { limits: { fileSizeBytes: MiB } });
    expect(job).toMatchObject({ status: 'succeeded', stdout: `REDTEAM huge file\ndd exit ${128 + 25}\nsize ${MiB}\n` });
  });

  it('one huge file from Python (SIGXFSZ ignored) fails with EFBIG at fileSizeBytes', async () => {
    const job = await run('huge-file.py', { limits: { fileSizeBytes: MiB } });
    expect(job).toMatchObject({ status: 'succeeded', stdout: `REDTEAM huge file\nstopped: EFBIG after ${MiB} bytes\n` });
  });

  it('fd exhaustion stops at openFiles with EMFILE', async () => {
    const job = await run('fd-exhaustion.py', { limits: { openFiles: 64 } });
    expect(job.status).toBe('succeeded');
    const n = Number(/stopped: EMFILE after (\d+) files/.exec(job.stdout)?.[1]);
    expect(n).toBeGreaterThan(40);
    expect(n).toBeLessThan(64);
  });

  it('a thread bomb stops at the pids limit', async () => {
    const job = await run('thread-bomb.py', { limits: { pids: 32 } });
    expect(job.status).toBe('succeeded');
    const n = Number(/stopped: can't start new thread after (\d+) threads/.exec(job.stdout)?.[1]);
    expect(n).toBeGreaterThan(10);
    expect(n).toBeLessThan(32);
  });

  it('a stdout flood ends as output_limit with stdout truncated at the cap', async () => {
    const job = await run('stdout-flood.py', { limits: { stdoutBytes: 65536 } });
    expect(job).toMatchObject({ status: 'output_limit', stdoutTruncated: true, stderrTruncated: false });
    expect(job.stdout).toMatch(/^REDTEAM stdout flood\nAAAA/);
    expect(job.stdout.length).toBe(65536);
    expect(job.stdoutBytes).toBeGreaterThan(65536);
  });

  it('a stderr flood ends as output_limit with stderr truncated at the cap', async () => {
    const job = await run('stderr-flood.sh', { limits: { stderrBytes: 4096 } });
    expect(job).toMatchObject({ status: 'output_limit', stderrTruncated: true, stdoutTruncated: false, stdout: 'REDTEAM stderr flood\n' });
    expect(job.stderr.length).toBe(4096);
  });

  it('a sleeper that ignores SIGTERM and friends ends as timeout within timeout + 2 s', async () => {
    const job = await run('sigterm-sleeper.py', { timeoutMs: 2000 });
    expect(job).toMatchObject({ status: 'timeout', stdout: 'REDTEAM sigterm sleeper\n' });
    expect(job.durationMs).toBeGreaterThanOrEqual(1900);
    expect(job.durationMs).toBeLessThan(2000 + 2000);
  });

  it('CPU burn in six processes ends as timeout within timeout + 2 s', async () => {
    const job = await run('cpu-burn.sh', { timeoutMs: 2000 });
    expect(job).toMatchObject({ status: 'timeout', stdout: 'REDTEAM cpu burn\n' });
    expect(job.durationMs).toBeLessThan(2000 + 2000);
  });

  it('a process swarm filling the pids limit at exit: the job still ends cleanly, artifacts at worst not collected', async () => {
    const job = await run('pid-swarm-at-exit.sh', { outputs: ['out.txt'], limits: { pids: 32 } });
    expect(job).toMatchObject({ status: 'succeeded', exitCode: 0, attempts: 1, stdout: 'REDTEAM pid swarm at exit\n' });
    expect(job.durationMs).toBeLessThan(4000);
    // the collector needs a process slot: either it got one, or it reports why nothing came back
    if (job.artifacts.length > 0) expect(job.artifacts).toEqual([{ path: 'out.txt', bytes: 7, sha256: sha256('result\n') }]);
    else expect(job.artifactsRejected).toEqual([{ path: '*', reason: 'not_collected' }]);
  });

  it('closing stdout and stderr does not end the run early or dodge the wall clock', async () => {
    const job = await run('close-stdio.py', { timeoutMs: 2000 });
    expect(job).toMatchObject({ status: 'timeout', stdout: 'REDTEAM close stdio\n' });
    expect(job.durationMs).toBeGreaterThanOrEqual(1900);
    expect(job.durationMs).toBeLessThan(2000 + 2000);
  });

  it('a daemon left behind does not keep the job (or its container) alive', async () => {
    const job = await run('orphan-daemon.py', { timeoutMs: 10000 });
    expect(job).toMatchObject({ status: 'succeeded', stdout: 'REDTEAM orphan daemon\nparent done\n' });
    expect(job.durationMs).toBeLessThan(3000);
  });
});

describe.concurrent('exfiltration', () => {
  it('bash reverse shells over /dev/tcp and /dev/udp are refused (EACCES)', async () => {
    const job = await run('reverse-shell.sh');
    expect(job.status).toBe('succeeded');
    expect(job.stdout).toBe(
      [
        'REDTEAM bash reverse shell',
        'refused tcp 1.1.1.1/4444',
        'refused tcp 172.17.0.1/4444',
        'refused tcp 127.0.0.1/6379',
        'refused tcp 10.0.0.1/443',
        'refused udp 8.8.8.8/53',
        '',
      ].join('\n'),
    );
    expect(job.stderr).toContain('socket: Permission denied');
  });

  it('python sockets (TCP, UDP, IPv6, raw) are refused with EACCES; only lo exists', async () => {
    const job = await run('reverse-shell.py');
    expect(job.status).toBe('succeeded');
    expect(job.stdout).not.toContain('ESCAPED');
    for (const label of ['tcp 1.1.1.1:443', 'tcp 172.17.0.1:2375', 'tcp 127.0.0.1:6379', 'udp 8.8.8.8:53', 'tcp6 [2606:4700:4700::1111]:443', 'raw icmp']) {
      expect(job.stdout).toContain(`refused ${label} EACCES\n`);
    }
    expect(job.stdout).toContain("interfaces: ['lo']\n");
  });

  it('a bind shell cannot listen, and the host sees no new listening port', async () => {
    const before = hostListeningPorts();
    let port: number;
    do port = 20000 + Math.floor(Math.random() * 20000);
    while (before.has(port));
    const job = await run('bind-shell.py', { env: { REDTEAM_PORT: String(port) } });
    expect(job).toMatchObject({ status: 'succeeded', stdout: `REDTEAM bind shell on ${port}\nrefused listen 0.0.0.0 EACCES\nrefused listen :: EACCES\n` });
    expect(hostListeningPorts().has(port)).toBe(false);
    expect(await hostConnect(port)).toBe('ECONNREFUSED');
  });

  it('the cloud metadata address 169.254.169.254 is unreachable from Python', async () => {
    const job = await run('metadata.py');
    expect(job.status).toBe('succeeded');
    expect(job.stdout).not.toContain('ESCAPED');
    expect(job.stdout.match(/^refused http:\S+ EACCES$/gm)).toHaveLength(3);
  });

  it('the cloud metadata address is unreachable from Node (fetch and http)', async () => {
    const job = await run('metadata.js');
    expect(job).toMatchObject({ status: 'succeeded', stdout: 'REDTEAM node metadata\nrefused fetch EACCES\nrefused http EACCES\n' });
  });

  it('no secret in the environment: none of ours, no host variable, PID 1 unreadable', async () => {
    const job = await run('env-secrets.py');
    expect(job.status).toBe('succeeded');
    expect(job.stdout).not.toContain(HOST_CANARY);
    expect(job.stdout).not.toMatch(/AIRLOCK_|REDIS|REDTEAM_HOST/);
    const envLine = /^ENV (.*)$/m.exec(job.stdout)?.[1] ?? '';
    const names = envLine.split(' ').map((kv: string) => kv.split('=')[0]);
    // the program starts under `env -i` with a fixed set plus the job's own env (none here)
    const FIXED = ['HOME', 'LANG', 'LOGNAME', 'PATH', 'USER'];
    expect(names.sort()).toEqual(FIXED);
    const hostNames = Object.keys(process.env).filter((n) => !FIXED.includes(n));
    for (const n of hostNames) expect(names).not.toContain(n);
    // gVisor's /proc lets the job read the environment of the container's init (root) and launcher: it holds only the fixed set and the hostname
    if (GVISOR) {
      // (in no fixed order)
      const proc1 = (/^PROC 1 readable: (.*) $/m.exec(job.stdout)?.[1] ?? '').split(' ').sort();
      expect(proc1).toEqual(['HOME=/work', expect.stringMatching(/^HOSTNAME=[0-9a-f]{12}$/), 'LANG=C.UTF-8', 'PATH=/usr/local/bin:/usr/bin:/bin']);
    } else expect(job.stdout).toContain('PROC 1 denied: Permission denied\n');
    expect(job.stdout).toContain('/work/.airlock absent\n');
    expect(job.stdout).toContain('/run/secrets absent\n');
  });

  it("/etc/resolv.conf and /etc/hosts show none of the host's DNS servers or its name", async () => {
    const job = await run('resolv-conf.sh');
    expect(job.status).toBe('succeeded');
    const hostServers = [...readFileSync('/etc/resolv.conf', 'utf8').matchAll(/^nameserver\s+(\S+)/gm)].map((m) => m[1]!);
    for (const server of hostServers.filter((s) => !s.startsWith('127.'))) expect(job.stdout).not.toContain(server);
    for (const m of job.stdout.matchAll(/^nameserver\s+(\S+)/gm)) expect(m[1]).toMatch(/^127\./);
    if (hostname().length > 3 && hostname() !== 'localhost') expect(job.stdout).not.toMatch(new RegExp(`\\b${hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`));
  });
});

describe.concurrent('forging', () => {
  it('fake launcher headers and a claim of success do not change the result: failed, exit 3', async () => {
    const job = await run('fake-header.py');
    expect(job).toMatchObject({
      status: 'failed',
      exitCode: 3,
      stdout: '\0AIRLOCK ok\n\0AIRLOCK patch_failed\n\0AIRLOCK input_failed\nexit status 0\n',
      stderr: 'REDTEAM fake header\n',
      attempts: 1,
    });
  });

  // A forged tripwire only makes the job look worse, so exit 159 always counts (the kernel
  // rate-limits its seccomp records: a missing record proves nothing). What a forger cannot
  // get is the kernel's confirmation: no record exists for its gid, so the violation is unverified.
  it('exit 159 by hand counts as a violation but is not confirmed by the kernel', async () => {
    const job = await run('forge-exit-159.sh');
    expect(job.stdout).toBe('REDTEAM forge exit 159\n');
    expect(job).toMatchObject({ status: 'policy_violation', exitCode: 159, violation: { syscall: null, verified: false } });
  });

  it('SIGSYS sent to itself counts as a violation but is not confirmed by the kernel', async () => {
    const job = await run('forge-sigsys.sh');
    expect(job.stdout).toBe('REDTEAM forge SIGSYS\n');
    expect(job).toMatchObject({ status: 'policy_violation', exitCode: 159, violation: { syscall: null, verified: false } });
  });

  it('a tar stream on stdout (or a collector-looking file) creates no artifact', async () => {
    const job = await run('fake-artifacts.py', { outputs: ['out/**'] });
    expect(job).toMatchObject({ status: 'succeeded', artifacts: [], artifactDigest: null, artifactsRejected: [], stderr: 'REDTEAM fake artifacts\n' });
    expect(job.stdout).toContain('forged artifact');
    const tar = await t.request('GET', `/v1/jobs/${job.id}/artifacts.tar`, key);
    expect(tar.status).toBe(404);
    expect(tar.body.error.code).toBe('ARTIFACT_NOT_FOUND');
    const one = await t.request('GET', `/v1/jobs/${job.id}/artifacts/out/forged.txt`, key);
    expect(one.status).toBe(404);
  });

  it('kill -9 on PID 1, the launcher, every process (kill -1) and itself gives a clean result (failed 137, not oom)', async () => {
    const job = await run('kill-everything.sh');
    expect(job).toMatchObject({ status: 'failed', exitCode: 137, attempts: 1 });
    expect(job.stdout).toBe('REDTEAM kill everything\ndenied kill 1\ndenied kill of a foreign process\nkill -1 spared only the caller\n');
    // the worker is unharmed: the next job runs normally
    const next = await runJob(t, key, { ...on('shell'), command: 'echo still here' });
    expect(next).toMatchObject({ status: 'succeeded', stdout: 'still here\n' });
  });

  it("the job's env cannot reach the launcher: TAR_OPTIONS cannot run code or forge the header before it", async () => {
    const env = {
      TAR_OPTIONS: '--checkpoint=1 --checkpoint-action=exec=printf\\ "$FORGE"',
      FORGE: '\\000AIRLOCK\\040patch_failed\\nforged-before-the-header\\n',
    };
    const res = await t.request('POST', '/v1/jobs?wait=30', key, hostile('launcher-env.py', { env }));
    if (res.status === 400) {
      // refusing the variable outright is a fix too
      expect(res.body.error.code).toBe('INVALID_REQUEST');
      return;
    }
    const job = await finished(res.body.id);
    expect(job.patchMessage ?? '').not.toContain('forged-before-the-header');
    expect(job).toMatchObject({ status: 'succeeded', stdout: 'REDTEAM launcher env: program ran\n' });
  });

  it('LD_* loader variables are reserved as documented (LD_SHOW_AUXV would print before the header)', async () => {
    const res = await t.request('POST', '/v1/jobs', key, hostile('loader-env.py', { env: { LD_SHOW_AUXV: '1' } }));
    if (res.status === 202) await finished(res.body.id);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'INVALID_REQUEST', field: 'env' });
  });
});

describe('the worker stays responsive', () => {
  it('a hostile output glob over a deep tree cannot stall the worker or stretch another job past its wall clock', async () => {
    // the test process hosts the worker: its event-loop lag is the worker's
    let maxLagMs = 0;
    let last = Date.now();
    const probe = setInterval(() => {
      const now = Date.now();
      maxLagMs = Math.max(maxLagMs, now - last - 50);
      last = now;
    }, 50);
    try {
      const sleeperId = await startRunning({ ...on('shell'), command: 'sleep 30', timeoutMs: 1500 });
      // more than four `**` is refused at the door; four is the most a job can send
      const refused = await t.request('POST', '/v1/jobs', key, { ...on('shell'), command: 'true', outputs: [`${'**/'.repeat(10)}x`] });
      expect({ status: refused.status, code: refused.body.error?.code }).toEqual({ status: 400, code: 'INVALID_PATH' });
      const job = await run('glob-redos.sh', { outputs: [`${'**/'.repeat(4)}x`] });
      const sleeper = await finished(sleeperId);
      expect(job).toMatchObject({ status: 'succeeded', stdout: 'REDTEAM glob redos\n', artifacts: [], artifactsRejected: [] });
      expect(sleeper.status).toBe('timeout');
      expect({ sleeperDurationMs: sleeper.durationMs < 1500 + 2000 ? 'within timeout + 2 s' : sleeper.durationMs, maxLagMs: maxLagMs < 1000 ? 'under 1 s' : maxLagMs }).toEqual({
        sleeperDurationMs: 'within timeout + 2 s',
        maxLagMs: 'under 1 s',
      });
    } finally {
      clearInterval(probe);
    }
  });
});
