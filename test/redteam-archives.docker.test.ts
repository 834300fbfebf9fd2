/**
 * Hostile archives, both ways. In: a tar.gz given as job input is refused with a 4xx and a
 * stable code before anything is queued (no job record, no BullMQ job). Out: hostile shapes a
 * job leaves in /work (links, FIFOs, setuid files, odd names, too many/too large files) are
 * reported in artifactsRejected, never followed or written anywhere on the host, while the
 * regular files next to them are collected byte for byte and served by the artifact routes.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, lstatSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runJob, startTestAirlock, type TestAirlock } from './helpers/airlock.js';
import { GVISOR, on } from './helpers/isolation.js';
import { untar } from './helpers/tar.js';
import { testRedis } from './helpers/redis.js';

const MiB = 1024 * 1024;
let t: TestAirlock;
let key: string;

beforeAll(async () => {
  t = await startTestAirlock('redteam-archives', { AIRLOCK_WORKER_CONCURRENCY: '3' });
  key = (await t.key('agent')).key;
});
afterAll(async () => {
  try {
    if (t) expect(await t.containers()).toEqual([]);
  } finally {
    await t?.stop();
  }
});

const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');

// ---------------------------------------------------------------------------------------------
// A raw tar writer: tar-stream refuses (or normalises) several of the shapes below.

interface RawEntry {
  name: string;
  /** typeflag: '0' file, '1' hard link, '2' symlink, '3' char, '4' block, '5' dir, '6' FIFO, 'x' pax, 'L'/'K' GNU long name/link */
  type?: string;
  mode?: number;
  data?: Buffer | string;
  linkname?: string;
  /** overrides the size field (raw octal text, or a base-256 marker) */
  sizeField?: Buffer;
  devmajor?: number;
  devminor?: number;
}

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function rawHeader(e: RawEntry, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(e.name, 0, 100, 'utf8');
  h.write(octal(e.mode ?? (e.type === '5' ? 0o755 : 0o644), 8), 100, 'latin1');
  h.write(octal(10001, 8), 108, 'latin1');
  h.write(octal(10001, 8), 116, 'latin1');
  if (e.sizeField) e.sizeField.copy(h, 124);
  else h.write(octal(size, 12), 124, 'latin1');
  h.write(octal(1_700_000_000, 12), 136, 'latin1');
  h.write(e.type ?? '0', 156, 'latin1');
  if (e.linkname !== undefined) h.write(e.linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 'latin1');
  h.write('00', 263, 'latin1');
  h.write(octal(e.devmajor ?? 0, 8), 329, 'latin1');
  h.write(octal(e.devminor ?? 0, 8), 337, 'latin1');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return h;
}

function rawTar(entries: RawEntry[], { end = true } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = Buffer.from(e.data ?? '');
    parts.push(rawHeader(e, data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  if (end) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** One pax record: "<len> key=value\n", where len counts itself. */
function paxRecord(k: string, v: string): string {
  const body = ` ${k}=${v}\n`;
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len += 1;
  return `${len}${body}`;
}

const gz = (tar: Buffer) => gzipSync(tar).toString('base64');

// ---------------------------------------------------------------------------------------------

/** Job records and BullMQ jobs under this test's prefix. */
async function queuedCount(): Promise<number> {
  const redis = testRedis();
  try {
    let n = 0;
    for (const pattern of [`{${t.prefix}}:job:*`, `{${t.prefix}}:jobs:job_*`]) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        n += keys.length;
      } while (cursor !== '0');
    }
    return n;
  } finally {
    redis.disconnect();
  }
}

/** A wrongly accepted job is waited for, so its container never outlives the test. */
async function drainIfAccepted(res: { status: number; body: any }): Promise<void> {
  if (res.status !== 202 && res.status !== 200) return;
  for (let i = 0; i < 10; i++) {
    const job = (await t.request('GET', `/v1/jobs/${res.body.id}?wait=10`, key)).body;
    if (job.status !== 'queued' && job.status !== 'running') return;
  }
}

/** Submits an archive as job input and asserts it is refused before anything is queued. */
async function refused(archive: string, httpStatus: number, code: string, extra: Record<string, unknown> = {}): Promise<any> {
  const before = await queuedCount();
  const res = await t.request('POST', '/v1/jobs', key, { ...on('shell'), archive, command: 'echo RAN', ...extra });
  await drainIfAccepted(res);
  expect({ status: res.status, code: res.body?.error?.code }).toEqual({ status: httpStatus, code });
  expect(await queuedCount()).toBe(before);
  return res.body.error;
}

describe('hostile archives as job input are refused, nothing queued', () => {
  it('a `..` name', async () => {
    const e = await refused(gz(rawTar([{ name: '../escape.txt', data: 'x' }])), 400, 'INVALID_PATH');
    expect(e.path).toBe('../escape.txt');
  });

  it('a `..` in the middle and after ./', async () => {
    await refused(gz(rawTar([{ name: 'a/../../escape.txt', data: 'x' }])), 400, 'INVALID_PATH');
    await refused(gz(rawTar([{ name: './../escape.txt', data: 'x' }])), 400, 'INVALID_PATH');
  });

  it('an absolute name', async () => {
    await refused(gz(rawTar([{ name: '/etc/cron.d/evil', data: '* * * * * root sh -c id\n' }])), 400, 'INVALID_PATH');
  });

  it('a symlink, then a write through it', async () => {
    const tar = rawTar([
      { name: 'lnk', type: '2', linkname: '/etc' },
      { name: 'lnk/cron.d/evil', data: 'x' },
    ]);
    await refused(gz(tar), 400, 'INVALID_ARCHIVE');
  });

  it('a symlink to a sibling whose name shares the prefix (CVE-2025-59343 style)', async () => {
    const tar = rawTar([
      { name: 'work/', type: '5' },
      { name: 'work/x', type: '2', linkname: '../work-sibling' },
      { name: 'work/x/pwned', data: 'x' },
    ]);
    await refused(gz(tar), 400, 'INVALID_ARCHIVE');
  });

  it('a hard link to a file outside, and one to a sibling inside', async () => {
    await refused(gz(rawTar([{ name: 'passwd', type: '1', linkname: '/etc/passwd' }])), 400, 'INVALID_ARCHIVE');
    await refused(
      gz(
        rawTar([
          { name: 'a', data: 'a' },
          { name: 'b', type: '1', linkname: 'a' },
        ]),
      ),
      400,
      'INVALID_ARCHIVE',
    );
  });

  it('a directory replaced by a symlink', async () => {
    const tar = rawTar([
      { name: 'd/', type: '5' },
      { name: 'd/a', data: 'a' },
      { name: 'd', type: '2', linkname: '/tmp' },
      { name: 'd/b', data: 'b' },
    ]);
    await refused(gz(tar), 400, 'INVALID_ARCHIVE');
  });

  it('device nodes (character and block)', async () => {
    await refused(gz(rawTar([{ name: 'mem', type: '3', devmajor: 1, devminor: 1 }])), 400, 'INVALID_ARCHIVE');
    await refused(gz(rawTar([{ name: 'sda', type: '4', devmajor: 8, devminor: 0 }])), 400, 'INVALID_ARCHIVE');
  });

  it('a FIFO', async () => {
    await refused(gz(rawTar([{ name: 'pipe', type: '6' }])), 400, 'INVALID_ARCHIVE');
  });

  it('setuid and setgid files (and a setgid directory)', async () => {
    await refused(gz(rawTar([{ name: 'suid', mode: 0o4755, data: '#!/bin/sh\nid\n' }])), 400, 'INVALID_ARCHIVE');
    await refused(gz(rawTar([{ name: 'sgid', mode: 0o2755, data: 'x' }])), 400, 'INVALID_ARCHIVE');
    await refused(gz(rawTar([{ name: 'dir/', type: '5', mode: 0o2775 }])), 400, 'INVALID_ARCHIVE');
  });

  it('unsupported entry types (GNU sparse, volume header, contiguous is fine)', async () => {
    await refused(gz(rawTar([{ name: 'sparse', type: 'S', data: 'x' }])), 400, 'INVALID_ARCHIVE');
    await refused(gz(rawTar([{ name: 'vol', type: 'V' }])), 400, 'INVALID_ARCHIVE');
  });

  it('a gzip bomb (~1 MB inflating to 1 GiB) is stopped at the unpacked-size cap, quickly', async () => {
    // concatenated gzip members are one valid gzip stream: 64 × 16 MiB of zeros
    const tar = rawTar([{ name: 'zeros', sizeField: Buffer.from(octal(1024 * MiB, 12), 'latin1') }], { end: false });
    const member = gzipSync(Buffer.alloc(16 * MiB), { level: 9 });
    const bomb = Buffer.concat([gzipSync(tar), ...Array.from({ length: 64 }, () => member)]);
    expect(bomb.length).toBeLessThan(2 * MiB);
    const t0 = Date.now();
    const e = await refused(bomb.toString('base64'), 413, 'INPUT_TOO_LARGE');
    expect(e.cap).toBe('archiveBytes');
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('a high compression ratio under the size cap is refused (cap archiveRatio)', async () => {
    const tar = rawTar([{ name: 'zeros.bin', data: Buffer.alloc(12 * MiB) }]);
    const e = await refused(gz(tar), 413, 'INPUT_TOO_LARGE');
    expect(e.cap).toBe('archiveRatio');
  });

  it('100k entries are refused (their headers alone pass the unpacked-size cap)', async () => {
    const tar = rawTar(Array.from({ length: 100_000 }, (_, i) => ({ name: `f${i}` })));
    expect(tar.length).toBeGreaterThan(16 * MiB); // 100k headers: 51 MB before any content
    const e = await refused(gz(tar), 413, 'INPUT_TOO_LARGE');
    expect(e.cap).toBe('archiveBytes');
  });

  it('one entry over the entry cap is refused (cap archiveEntries)', async () => {
    const tar = rawTar(Array.from({ length: 10_001 }, (_, i) => ({ name: `d${i % 50}/f${i}` })));
    const e = await refused(gz(tar), 413, 'INPUT_TOO_LARGE');
    expect(e.cap).toBe('archiveEntries');
  });

  it('a path deeper than the depth cap (cap archiveDepth)', async () => {
    const e = await refused(gz(rawTar([{ name: `${'d/'.repeat(33)}f`, data: 'x' }])), 413, 'INPUT_TOO_LARGE');
    expect(e.cap).toBe('archiveDepth');
  });

  it('a pax header with a linkpath (a link hidden in an extended header)', async () => {
    const tar = rawTar([
      { name: 'PaxHeader/x', type: 'x', data: paxRecord('linkpath', '/etc/shadow') },
      { name: 'innocent.txt', data: 'x' },
    ]);
    await refused(gz(tar), 400, 'INVALID_ARCHIVE');
  });

  it('a pax path that climbs (the ustar name looks innocent)', async () => {
    const tar = rawTar([
      { name: 'PaxHeader/x', type: 'x', data: paxRecord('path', '../../etc/cron.d/evil') },
      { name: 'innocent.txt', data: 'x' },
    ]);
    const e = await refused(gz(tar), 400, 'INVALID_PATH');
    expect(e.path).toBe('../../etc/cron.d/evil');
  });

  it('a GNU long link name (././@LongLink, type K)', async () => {
    const tar = rawTar([
      { name: '././@LongLink', type: 'K', data: `/${'x'.repeat(150)}\0` },
      { name: 'lnk', type: '2', linkname: 'short' },
    ]);
    await refused(gz(tar), 400, 'INVALID_ARCHIVE');
  });

  it('a GNU long name (type L) that climbs', async () => {
    const long = `../../${'x'.repeat(120)}/../../../etc/evil`;
    const tar = rawTar([
      { name: '././@LongLink', type: 'L', data: `${long}\0` },
      { name: 'innocent.txt', data: 'x' },
    ]);
    await refused(gz(tar), 400, 'INVALID_PATH');
  });

  it("files planted in the launcher's control directory (.airlock/patch, .airlock/stdin)", async () => {
    await refused(gz(rawTar([{ name: '.airlock/patch', data: '--- a\n+++ b\n' }])), 400, 'INVALID_PATH');
    await refused(gz(rawTar([{ name: './.airlock/stdin', data: 'x' }])), 400, 'INVALID_PATH');
  });

  it('names with a backslash or a control character', async () => {
    await refused(gz(rawTar([{ name: '..\\..\\evil', data: 'x' }])), 400, 'INVALID_PATH');
    await refused(gz(rawTar([{ name: 'new\nline', data: 'x' }])), 400, 'INVALID_PATH');
  });

  it('the same file twice, and an archive file that `files` would replace', async () => {
    await refused(
      gz(
        rawTar([
          { name: 'a.txt', data: '1' },
          { name: 'a.txt', data: '2' },
        ]),
      ),
      400,
      'INVALID_ARCHIVE',
    );
    await refused(gz(rawTar([{ name: 'a.txt', data: '1' }])), 400, 'INVALID_PATH', { files: [{ path: 'a.txt', content: '2' }] });
  });

  it('a file and a directory of the same name (a, then a/b) is refused up front, not a sandbox error', async () => {
    await refused(
      gz(
        rawTar([
          { name: 'a', data: 'file' },
          { name: 'a/b', data: 'under a file' },
        ]),
      ),
      400,
      'INVALID_ARCHIVE',
    );
  });

  it('the same conflict through `files` is refused up front too', async () => {
    const before = await queuedCount();
    const res = await t.request('POST', '/v1/jobs', key, {
      ...on('shell'),
      files: [
        { path: 'a', content: 'file' },
        { path: 'a/b', content: 'under a file' },
      ],
      command: 'true',
    });
    await drainIfAccepted(res);
    expect({ status: res.status, code: res.body?.error?.code }).toEqual({ status: 400, code: 'INVALID_PATH' });
    expect(await queuedCount()).toBe(before);
  });

  it('not gzip, a bad header checksum, a truncated entry, a base-256 size', async () => {
    await refused(Buffer.from('this is not gzip at all').toString('base64'), 400, 'INVALID_ARCHIVE');
    const bad = rawTar([{ name: 'a.txt', data: 'x' }]);
    bad[0] = 'b'.charCodeAt(0); // name changed after the checksum was computed
    await refused(gz(bad), 400, 'INVALID_ARCHIVE');
    const truncated = rawTar([{ name: 'big.txt', data: Buffer.alloc(4096, 0x61) }]).subarray(0, 1024);
    await refused(gz(truncated), 400, 'INVALID_ARCHIVE');
    const base256 = Buffer.alloc(12);
    base256[0] = 0x80;
    base256[11] = 1;
    await refused(gz(rawTar([{ name: 'b256', sizeField: base256, data: '' }])), 400, 'INVALID_ARCHIVE');
  });
});

describe('a normal repository snapshot with a git-style patch', () => {
  it('a GNU tar of a repo tree (dirs, ./ names, long paths, an executable) + patch: the tests inside run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-snapshot-'));
    try {
      const longDir = join('src', 'a-rather-long-directory-name-that-pushes-the-path-past-one-hundred-characters', 'nested');
      mkdirSync(join(dir, longDir), { recursive: true });
      mkdirSync(join(dir, 'tests'));
      writeFileSync(join(dir, 'src', '__init__.py'), '');
      writeFileSync(join(dir, 'src', 'calc.py'), 'def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n');
      writeFileSync(join(dir, longDir, 'deep.py'), 'VALUE = 7\n');
      writeFileSync(join(dir, 'obsolete.txt'), 'remove me\n');
      writeFileSync(join(dir, 'run-tests.sh'), '#!/bin/sh\nexec python3 -m unittest discover -s tests -v\n');
      chmodSync(join(dir, 'run-tests.sh'), 0o755);
      writeFileSync(
        join(dir, 'tests', 'test_calc.py'),
        [
          'import importlib.util, pathlib, sys, unittest',
          'sys.path.insert(0, ".")',
          'from src.calc import add, mul',
          'class Calc(unittest.TestCase):',
          '    def test_add(self):',
          '        self.assertEqual(add(2, 3), 5)',
          '    def test_mul(self):',
          '        self.assertEqual(mul(2, 3), 6)',
          '    def test_patch_effects(self):',
          '        self.assertFalse(pathlib.Path("obsolete.txt").exists())',
          '        self.assertEqual(pathlib.Path("NEWS.md").read_text(), "fixed add\\n")',
          `        spec = importlib.util.spec_from_file_location("deep", "${longDir}/deep.py")`,
          '        m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)',
          '        self.assertEqual(m.VALUE, 7)',
          '',
        ].join('\n'),
      );
      const archive = execFileSync('tar', ['-czf', '-', '-C', dir, '.']).toString('base64');
      const patch = [
        'diff --git a/src/calc.py b/src/calc.py',
        'index 1111111..2222222 100644',
        '--- a/src/calc.py',
        '+++ b/src/calc.py',
        '@@ -1,5 +1,5 @@',
        ' def add(a, b):',
        '-    return a - b',
        '+    return a + b',
        ' ',
        ' ',
        ' def mul(a, b):',
        'diff --git a/NEWS.md b/NEWS.md',
        'new file mode 100644',
        'index 0000000..3333333',
        '--- /dev/null',
        '+++ b/NEWS.md',
        '@@ -0,0 +1 @@',
        '+fixed add',
        'diff --git a/obsolete.txt b/obsolete.txt',
        'deleted file mode 100644',
        'index 4444444..0000000',
        '--- a/obsolete.txt',
        '+++ /dev/null',
        '@@ -1 +0,0 @@',
        '-remove me',
        '',
      ].join('\n');
      const job = await runJob(t, key, {
        ...on('python'),
        archive,
        patch,
        command: `python3 -c 'import os; print("mode %o" % (os.stat("run-tests.sh").st_mode & 0o777))'; sh run-tests.sh 2>&1`,
      });
      expect(job.status).toBe('succeeded');
      expect(job.stdout).toMatch(/^mode 755\n/); // the executable bit survives (running it still needs `sh`: /work is noexec)
      expect(job.stdout).toMatch(/test_patch_effects .* ok\n/);
      expect(job.stdout).toMatch(/Ran 3 tests/);
      expect(job.stdout).toMatch(/\nOK\n$/);
      expect(await t.containers(job.id)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

async function download(jobId: string, path: string): Promise<{ status: number; body: Buffer; sha: string | null }> {
  const res = await fetch(`${t.baseUrl}/v1/jobs/${jobId}/artifacts/${path.split('/').map(encodeURIComponent).join('/')}`, { headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), sha: res.headers.get('x-content-sha256') };
}

async function downloadTar(jobId: string): Promise<Record<string, Buffer>> {
  const res = await fetch(`${t.baseUrl}/v1/jobs/${jobId}/artifacts.tar`, { headers: { authorization: `Bearer ${key}` } });
  expect(res.status).toBe(200);
  return untar(Buffer.from(await res.arrayBuffer()));
}

/** Every entry under the artifact store is a plain file or folder: nothing a job made was followed or recreated. */
function assertStoreHasNoLinks(): void {
  const root = join(t.config.dataDir, 'artifacts');
  if (!existsSync(root)) return;
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const st = lstatSync(join(d, name));
      expect(st.isSymbolicLink() || st.isFIFO() || st.isBlockDevice() || st.isCharacterDevice()).toBe(false);
      if (st.isDirectory()) walk(join(d, name));
    }
  };
  walk(root);
}

describe.concurrent('hostile shapes left in /work as artifacts', () => {
  it('links, a FIFO, setuid/setgid files and odd names are rejected; the regular files next to them are collected exactly', async () => {
    const id = randomBytes(6).toString('hex');
    const hostPath = `/tmp/airlock-redteam-${id}`;
    const data = randomBytes(3000);
    const command = [
      'set -e',
      'mkdir -p out/sub',
      'cp data.bin out/data.bin',
      'printf nested > out/sub/nested.txt',
      'ln -s /etc/passwd out/passwd-link',
      'ln -s /etc out/etc-dir',
      `ln -s ${hostPath} out/host-tmp`,
      'printf hard > out/hard-a && ln out/hard-a out/hard-b',
      'mkfifo out/fifo',
      'printf s > out/suid && chmod u+s out/suid',
      'printf g > out/sgid && chmod g+s out/sgid',
      'printf dots > out/..evil && printf dots > out/a..b && printf dots > out/...',
      'printf odd > "out/sp ace#%41?.txt"',
      "printf x > 'out/back\\slash'",
      'printf x > "$(printf \'out/new\\nline\')"',
      // find, not stat: coreutils 9.1 stat fails with EINVAL on gVisor 2022-12 (statx)
      'find out/suid out/sgid -printf "%p %m\\n"',
    ].join('\n');
    const job = await runJob(t, key, { ...on('shell'), files: [{ path: 'data.bin', content: data.toString('base64'), encoding: 'base64' }], command, outputs: ['out'] });
    expect(await t.containers(job.id)).toEqual([]);
    expect(job.status).toBe('succeeded');
    // chmod u+s sticks on a nosuid tmpfs (nosuid only ignores it at exec), so the collector must check
    expect(job.stdout).toBe('out/suid 4644\nout/sgid 2644\n');

    const hard = job.artifacts.filter((a: { path: string }) => a.path.startsWith('out/hard-'));
    expect(hard).toHaveLength(1);
    const hardPath = hard[0].path as string;
    const otherHard = hardPath === 'out/hard-a' ? 'out/hard-b' : 'out/hard-a';
    expect(job.artifacts).toEqual(
      [
        { path: 'out/...', bytes: 4, sha256: sha('dots') },
        { path: 'out/..evil', bytes: 4, sha256: sha('dots') },
        { path: 'out/a..b', bytes: 4, sha256: sha('dots') },
        { path: 'out/data.bin', bytes: 3000, sha256: sha(data) },
        { path: 'out/sp ace#%41?.txt', bytes: 3, sha256: sha('odd') },
        { path: hardPath, bytes: 4, sha256: sha('hard') },
        { path: 'out/sub/nested.txt', bytes: 6, sha256: sha('nested') },
      ].sort((a, b) => (a.path < b.path ? -1 : 1)),
    );
    const rejected = [...job.artifactsRejected].map((r: { path: string; reason: string }) => ({ path: r.path.replace(/^\.\//, ''), reason: r.reason }));
    expect(rejected.sort((a, b) => (a.path < b.path ? -1 : 1))).toEqual(
      [
        { path: 'out/back\\slash', reason: 'unsafe_path' },
        { path: 'out/etc-dir', reason: 'symlink' },
        { path: 'out/fifo', reason: 'fifo' },
        { path: otherHard, reason: 'hardlink' },
        { path: 'out/host-tmp', reason: 'symlink' },
        { path: 'out/new\nline', reason: 'unsafe_path' },
        { path: 'out/passwd-link', reason: 'symlink' },
        { path: 'out/sgid', reason: 'setuid' },
        { path: 'out/suid', reason: 'setuid' },
      ].sort((a, b) => (a.path < b.path ? -1 : 1)),
    );

    // each accepted file downloads byte for byte; rejected ones are not served
    for (const a of job.artifacts) {
      const got = await download(job.id, a.path);
      expect({ path: a.path, status: got.status, sha: sha(got.body), header: got.sha }).toEqual({ path: a.path, status: 200, sha: a.sha256, header: a.sha256 });
    }
    for (const p of ['out/passwd-link', 'out/etc-dir', 'out/etc-dir/passwd', 'out/fifo', 'out/suid', otherHard, 'out/host-tmp']) {
      expect((await download(job.id, p)).status).toBe(404);
    }
    const list = await t.request('GET', `/v1/jobs/${job.id}/artifacts`, key);
    expect(list.body).toEqual({ artifacts: job.artifacts, artifactDigest: job.artifactDigest, artifactsRejected: job.artifactsRejected });
    const all = await downloadTar(job.id);
    expect(Object.keys(all).sort()).toEqual(job.artifacts.map((a: { path: string }) => a.path).sort());
    expect(sha(all['out/data.bin']!)).toBe(sha(data));

    // nothing outside the sandbox was followed or created
    expect(existsSync(hostPath)).toBe(false);
    assertStoreHasNoLinks();
  });

  it('names that are not valid UTF-8 cannot collide into one artifact path', async () => {
    const job = await runJob(t, key, {
      ...on('shell'),
      command: `mkdir out; printf one > "$(printf 'out/\\377\\376')"; printf two > "$(printf 'out/\\376\\377')"; printf fine > out/fine.txt`,
      outputs: ['out'],
    });
    expect(job.status).toBe('succeeded');
    const paths = job.artifacts.map((a: { path: string }) => a.path);
    expect(paths).toContain('out/fine.txt');
    // one path, one file: no artifact path may stand for two different files
    expect(new Set(paths).size).toBe(paths.length);
    for (const p of paths) expect(p).not.toContain('\uFFFD');
    // each odd name is either refused as unsafe or kept under its own distinct path
    const odd = job.artifacts.filter((a: { path: string }) => a.path !== 'out/fine.txt');
    const unsafe = job.artifactsRejected.filter((r: { reason: string }) => r.reason === 'unsafe_path');
    expect(odd.length + unsafe.length).toBe(2);
    expect(odd.map((a: { sha256: string }) => a.sha256).every((h: string) => h === sha('one') || h === sha('two'))).toBe(true);
  });

  it('a symlinked output directory yields nothing from its target', async () => {
    const job = await runJob(t, key, { ...on('shell'), command: 'ln -s /etc out', outputs: ['out', 'out/**'] });
    expect(job).toMatchObject({ status: 'succeeded', artifacts: [], artifactDigest: null, artifactsRejected: [{ path: 'out', reason: 'symlink' }] });
    expect((await download(job.id, 'out/passwd')).status).toBe(404);
  });

  it('files beyond artifactFiles are rejected as too_many_files', async () => {
    const job = await runJob(t, key, {
      ...on('shell'),
      command: 'mkdir out; for i in 1 2 3 4 5; do printf "file $i" > out/f$i.txt; done',
      outputs: ['out'],
      limits: { artifactFiles: 3 },
    });
    expect(job.status).toBe('succeeded');
    expect(job.artifacts).toHaveLength(3);
    for (const a of job.artifacts) expect(a.sha256).toBe(sha(`file ${a.path.slice(5, 6)}`));
    expect(job.artifactsRejected).toHaveLength(2);
    expect(job.artifactsRejected.every((r: { reason: string }) => r.reason === 'too_many_files')).toBe(true);
    const names = [...job.artifacts, ...job.artifactsRejected].map((a: { path: string }) => a.path).sort();
    expect(names).toEqual(['out/f1.txt', 'out/f2.txt', 'out/f3.txt', 'out/f4.txt', 'out/f5.txt']);
    expect(Object.keys(await downloadTar(job.id)).sort()).toEqual(job.artifacts.map((a: { path: string }) => a.path).sort());
  });

  it('files beyond artifactBytes are rejected as too_large; smaller ones still fit', async () => {
    const job = await runJob(t, key, {
      ...on('shell'),
      command: 'mkdir out; head -c 600 /dev/zero > out/a.bin; head -c 600 /dev/zero > out/b.bin; head -c 300 /dev/zero > out/c.bin',
      outputs: ['out'],
      limits: { artifactBytes: 1000 },
    });
    expect(job.status).toBe('succeeded');
    const total = job.artifacts.reduce((n: number, a: { bytes: number }) => n + a.bytes, 0);
    expect(total).toBeLessThanOrEqual(1000);
    expect(job.artifacts.length + job.artifactsRejected.length).toBe(3);
    expect(job.artifactsRejected.map((r: { reason: string }) => r.reason)).toEqual(['too_large']);
    expect(job.artifactsRejected[0].path).toMatch(/^out\/[ab]\.bin$/);
  });

  it('sparse files larger than the scratch space: the collector stops at its bound and says so', async () => {
    const job = await runJob(t, key, {
      ...on('shell'),
      command: 'printf small > small.txt; for i in 1 2 3 4 5; do truncate -s 30M sparse$i; done; du -sk . | cut -f1',
      outputs: ['small.txt', 'sparse*'],
      limits: { scratchBytes: 16 * MiB },
    });
    expect(job.status).toBe('succeeded');
    // 150 MiB of apparent size in a few KiB; gVisor's tmpfs reports a file's blocks as its size (du sees 150 MiB), the collector's bound is the same
    if (GVISOR) expect(Number(job.stdout.trim())).toBe(5 * 30 * 1024 + 1);
    else expect(Number(job.stdout.trim())).toBeLessThan(100);
    expect(job.artifacts).toEqual([]);
    expect(job.artifactsRejected).toEqual([{ path: '*', reason: 'not_collected' }]);
  });

  it('a collector that fails is never a partial listing: a file it cannot read means nothing is collected, and it says so', async () => {
    const job = await runJob(t, key, {
      ...on('shell'),
      command: 'printf kept > a.txt; printf hidden > b.txt; chmod 000 b.txt',
      outputs: ['a.txt', 'b.txt'],
    });
    expect(job.status).toBe('succeeded');
    // tar cannot read b.txt (mode 000, and the job's uid has no capability to override it): it streams a.txt and fails
    expect(job.artifacts).toEqual([]);
    expect(job.artifactsRejected).toEqual([{ path: '*', reason: 'not_collected' }]);
  });

  it('output globs that climb or are absolute are refused at submission', async () => {
    for (const outputs of [['../etc/passwd'], ['/etc/passwd'], ['out/../../x']]) {
      const res = await t.request('POST', '/v1/jobs', key, { ...on('shell'), command: 'true', outputs });
      expect({ status: res.status, code: res.body.error?.code }).toEqual({ status: 400, code: 'INVALID_PATH' });
    }
  });
});
