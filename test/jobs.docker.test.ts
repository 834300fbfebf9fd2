/**
 * One real job end to end: REST → BullMQ → hardened container → result, against the real
 * Redis and Docker engine. Every test also checks that no container of its job remains.
 */
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runJob, startTestAirlock, type TestAirlock } from './helpers/airlock.js';

let t: TestAirlock;
let key: string;

beforeAll(async () => {
  t = await startTestAirlock('jobs');
  key = (await t.key('agent')).key;
});
afterAll(async () => {
  await t?.stop();
});
afterEach(async () => {
  expect(await t.containers()).toEqual([]);
});

const py = (code: string, extra: Record<string, unknown> = {}) => ({ runtime: 'python', files: [{ path: 'main.py', content: code }], ...extra });
const sh = (command: string, extra: Record<string, unknown> = {}) => ({ runtime: 'shell', command, ...extra });

describe('results', () => {
  it('runs a python hello world', async () => {
    const job = await runJob(t, key, py('import sys\nprint("hello", sys.stdin.read())', { stdin: 'world' }));
    expect(job).toMatchObject({ status: 'succeeded', exitCode: 0, stdout: 'hello world\n', stderr: '', stdoutTruncated: false, attempts: 1 });
    expect(job.imageDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(job.durationMs).toBeGreaterThan(0);
    expect(Date.parse(job.finishedAt)).toBeGreaterThanOrEqual(Date.parse(job.startedAt));
  });

  it('runs a node hello world with its default command', async () => {
    const job = await runJob(t, key, { runtime: 'node', files: [{ path: 'main.js', content: 'console.log("hi from node", 6 * 7)' }] });
    expect(job).toMatchObject({ status: 'succeeded', exitCode: 0, stdout: 'hi from node 42\n' });
  });

  it('passes files (base64 too), env and an argv command', async () => {
    const job = await runJob(t, key, {
      runtime: 'shell',
      files: [{ path: 'dir/a.txt', content: Buffer.from('from base64').toString('base64'), encoding: 'base64' }],
      env: { GREETING: 'hey' },
      command: ['sh', '-c', 'cat dir/a.txt; echo " $GREETING"'],
    });
    expect(job).toMatchObject({ status: 'succeeded', stdout: 'from base64 hey\n' });
  });

  it('a non-zero exit is a result (failed), never retried', async () => {
    const job = await runJob(t, key, sh('echo out; echo err >&2; exit 3'));
    expect(job).toMatchObject({ status: 'failed', exitCode: 3, stdout: 'out\n', stderr: 'err\n', attempts: 1 });
  });
});

describe('limits', () => {
  it('kills a job that sleeps past its timeout within timeout + 2 s', async () => {
    const t0 = Date.now();
    const job = await runJob(t, key, sh('echo started; sleep 30', { timeoutMs: 1000 }));
    expect(job.status).toBe('timeout');
    expect(job.stdout).toBe('started\n');
    expect(job.durationMs).toBeLessThan(3000);
    expect(Date.now() - t0).toBeLessThan(3000 + 1500); // + queue and API round trips
  });

  it('a SIGTERM-ignoring sleeper is killed too (SIGKILL, not stop)', async () => {
    const job = await runJob(t, key, sh("trap '' TERM; sleep 30", { timeoutMs: 1000 }));
    expect(job.status).toBe('timeout');
    expect(job.durationMs).toBeLessThan(3000);
  });

  it('a memory hog ends as oom', async () => {
    const job = await runJob(t, key, py('a = []\nwhile True:\n    a.append(bytearray(8 * 1024 * 1024))', { limits: { memoryBytes: 64 * 1024 * 1024 } }));
    expect(job.status).toBe('oom');
  });

  it('`yes` ends as output_limit with truncated stdout', async () => {
    const job = await runJob(t, key, sh('yes', { limits: { stdoutBytes: 65536 } }));
    expect(job).toMatchObject({ status: 'output_limit', stdoutTruncated: true, stderrTruncated: false });
    expect(job.stdout.length).toBe(65536);
    expect(job.stdoutBytes).toBeGreaterThan(65536);
  });

  it('an stderr flood ends as output_limit too', async () => {
    const job = await runJob(t, key, sh('yes err >&2', { limits: { stderrBytes: 4096 } }));
    expect(job).toMatchObject({ status: 'output_limit', stderrTruncated: true });
    expect(job.stderr.length).toBe(4096);
  });
});

describe('isolation', () => {
  it('cannot open a TCP connection (python socket and bash /dev/tcp)', async () => {
    const code = [
      'import socket',
      'for host in ["1.1.1.1", "127.0.0.1", "169.254.169.254"]:',
      '    try:',
      '        socket.create_connection((host, 80), timeout=2)',
      '        print(host, "CONNECTED")',
      '    except OSError as e:',
      '        print(host, "blocked", e.errno)',
    ].join('\n');
    const job = await runJob(t, key, py(code));
    expect(job.status).toBe('succeeded');
    expect(job.stdout).not.toContain('CONNECTED');
    expect(job.stdout.match(/blocked/g)).toHaveLength(3);
    const bash = await runJob(t, key, sh('bash -c "exec 3<>/dev/tcp/1.1.1.1/80" && echo CONNECTED || echo blocked'));
    expect(bash.stdout).toContain('blocked');
  });

  it('cannot write outside its scratch space; /work and /tmp are writable but not executable', async () => {
    const cmd = [
      'for p in /etc/x /usr/x /x /var/x /work/ok /tmp/ok; do (echo hi > $p) 2>/dev/null && echo "wrote $p" || echo "denied $p"; done',
      'cp /bin/true /work/t && chmod +x /work/t && (/work/t && echo "exec work" || echo "noexec work")',
    ].join('; ');
    const job = await runJob(t, key, sh(cmd));
    for (const p of ['/etc/x', '/usr/x', '/x', '/var/x']) expect(job.stdout).toContain(`denied ${p}`);
    expect(job.stdout).toContain('wrote /work/ok');
    expect(job.stdout).toContain('wrote /tmp/ok');
    expect(job.stdout).toContain('noexec work');
  });

  it('runs as a non-root user with no capabilities, no new privileges and seccomp filtering', async () => {
    const job = await runJob(t, key, sh('cat /proc/self/status; id -u'));
    const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, 'm').exec(job.stdout)?.[1]?.trim();
    // a uid of the job's own (issue 10: one uid for every tenant shared per-user kernel limits)
    const uid = field('Uid')?.split(/\s+/)[0] ?? '';
    expect(field('Uid')?.split(/\s+/)).toEqual([uid, uid, uid, uid]);
    expect(Number(uid)).toBeGreaterThanOrEqual(200_000);
    expect(field('Gid')?.split(/\s+/)).toEqual([uid, uid, uid, uid]);
    for (const cap of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) expect(field(cap)).toBe('0000000000000000');
    expect(field('NoNewPrivs')).toBe('1');
    expect(field('Seccomp')).toBe('2');
  });

  it('sees no host DNS server', async () => {
    const job = await runJob(t, key, sh('cat /etc/resolv.conf 2>/dev/null; true'));
    expect(job.status).toBe('succeeded');
    const hostServers = [...readFileSync('/etc/resolv.conf', 'utf8').matchAll(/^nameserver\s+(\S+)/gm)].map((m) => m[1]!);
    for (const server of hostServers.filter((s) => !s.startsWith('127.'))) expect(job.stdout).not.toContain(server);
    for (const m of job.stdout.matchAll(/^nameserver\s+(\S+)/gm)) expect(m[1]).toMatch(/^127\./);
  });
});

describe('cancel', () => {
  it('DELETE kills a running job (status killed) and removes its container', async () => {
    const submitted = await t.request('POST', '/v1/jobs', key, sh('echo up; sleep 30'));
    expect(submitted.status).toBe(202);
    const id = submitted.body.id as string;
    let job = submitted.body;
    for (let i = 0; i < 100 && job.status !== 'running'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      job = (await t.request('GET', `/v1/jobs/${id}`, key)).body;
    }
    expect(job.status).toBe('running');
    const del = await t.request('DELETE', `/v1/jobs/${id}`, key);
    expect(del.status).toBe(202);
    const done = (await t.request('GET', `/v1/jobs/${id}?wait=10`, key)).body;
    expect(done.status).toBe('killed');
    const again = await t.request('DELETE', `/v1/jobs/${id}`, key);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('JOB_ALREADY_FINISHED');
  });
});
