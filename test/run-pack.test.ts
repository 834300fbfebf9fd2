/**
 * `airlock run`'s packing and its exit-code table, without a server: what git tracks (and only
 * that) is packed, `.git` never is, a symlink or a file or tree over the API's caps stops the
 * command before anything is sent (a loopback server counts requests), and every job status
 * maps to its documented code.
 */
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdir, mkdtemp, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../src/cli/index.js';
import { packTree } from '../src/cli/pack-tree.js';
import { exitOf, RUN_EXIT } from '../src/cli/run-command.js';
import { INPUT_CAPS, JOB_STATES, type JobView } from '../src/client/index.js';
import { AppError } from '../src/shared/index.js';

/** Names in a ustar archive. */
function tarNames(archive: string): string[] {
  const tar = gunzipSync(Buffer.from(archive, 'base64'));
  const names: string[] = [];
  for (let at = 0; at + 512 <= tar.length;) {
    const h = tar.subarray(at, at + 512);
    if (h.every((b) => b === 0)) break;
    const field = (from: number, len: number) =>
      h
        .subarray(from, from + len)
        .toString('utf8')
        .replace(/\0.*$/s, '');
    const prefix = field(345, 155);
    names.push(prefix === '' ? field(0, 100) : `${prefix}/${field(0, 100)}`);
    const size = parseInt(field(124, 12), 8);
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return names;
}

async function refusal(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

describe('airlock run: packing the tree', () => {
  let dir: string;
  let server: Server;
  let url: string;
  let requests = 0;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'airlock-pack-'));
    server = createServer((_req, res) => {
      requests++;
      res.writeHead(500).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  async function tree(name: string, files: Record<string, string>): Promise<string> {
    const root = join(dir, name);
    for (const [path, content] of Object.entries(files)) {
      await mkdir(join(root, path, '..'), { recursive: true });
      await writeFile(join(root, path), content);
    }
    return root;
  }

  it('in a git work tree, only what git tracks', async () => {
    const root = await tree('git', { 'src/a.py': 'a\n', 'README.md': 'r\n', 'untracked.txt': 'u\n', 'build/out.bin': 'b\n' });
    const git = (...args: string[]) => execFileSync('git', ['-C', root, ...args], { stdio: 'pipe' });
    git('init', '-q');
    git('add', 'src/a.py', 'README.md');
    git('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'x');
    const packed = await packTree(root);
    expect(packed.source).toBe('git');
    expect(tarNames(packed.archive)).toEqual(['README.md', 'src/a.py']);
    // --include adds untracked files by glob
    expect(tarNames((await packTree(root, ['build/**'])).archive)).toEqual(['README.md', 'build/out.bin', 'src/a.py']);
  });

  it('elsewhere, the directory minus .git', async () => {
    const root = await tree('plain', { 'main.py': 'x\n', '.git/config': 'secret\n', 'pkg/.gitignore': 'x\n' });
    const packed = await packTree(root);
    expect(packed.source).toBe('walk');
    expect(tarNames(packed.archive)).toEqual(['main.py', 'pkg/.gitignore']);
  });

  it('a long path is packed whole (ustar prefix)', async () => {
    const long = `${'d'.repeat(60)}/${'e'.repeat(60)}/file.txt`;
    const root = await tree('long', { [long]: 'x' });
    expect(tarNames((await packTree(root)).archive)).toEqual([long]);
  });

  it('a symlink is refused before anything is sent', async () => {
    const root = await tree('link', { 'main.py': 'x\n' });
    await symlink('/etc/passwd', join(root, 'passwd'));
    const e = await refusal(packTree(root));
    expect(e.code).toBe('INVALID_ARCHIVE');
    expect(e.message).toMatch(/passwd is a symlink/);
    const err: string[] = [];
    const code = await run(['run', '--dir', root, '--runtime', 'python', '--url', url, '--key', 'ak_x', '--', 'true'], { out: () => undefined, err: (s) => err.push(s), env: {} });
    expect(code).toBe(RUN_EXIT.usage);
    expect(err.join('\n')).toContain('symlink');
    expect(requests).toBe(0);
  });

  it('a file over the cap names the cap, before anything is sent', async () => {
    const root = await tree('big', { 'main.py': 'x\n', 'data.bin': '' });
    await truncate(join(root, 'data.bin'), INPUT_CAPS.archiveBytes + 1);
    const e = await refusal(packTree(root));
    expect(e.code).toBe('INPUT_TOO_LARGE');
    expect(e.message).toMatch(/data\.bin .*cap archiveBytes/);
    const err: string[] = [];
    expect(await run(['run', '--dir', root, '--runtime', 'python', '--url', url, '--key', 'ak_x', '--', 'true'], { out: () => undefined, err: (s) => err.push(s), env: {} })).toBe(
      RUN_EXIT.usage,
    );
    expect(err.join('\n')).toContain('archiveBytes');
    expect(requests).toBe(0);
  });

  it('a tree over the archive cap names the cap and its largest files', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 5; i++) files[`part-${i}.bin`] = 'x'.repeat(Math.ceil(INPUT_CAPS.archiveBytes / 4));
    const e = await refusal(packTree(await tree('tree', files)));
    expect(e.code).toBe('INPUT_TOO_LARGE');
    expect(e.message).toMatch(/the tree packs to .* cap archiveBytes/);
    expect(e.message).toContain('largest: part-');
  });
});

describe('airlock run: exit codes', () => {
  const job = (status: JobView['status'], exitCode: number | null = null): JobView => ({
    id: 'job_x',
    status,
    statusUrl: '',
    profile: 'python',
    createdAt: '',
    startedAt: null,
    finishedAt: null,
    attempts: 1,
    cancelRequested: false,
    exitCode,
  });

  it('each final status has its code; the ones of Airlock are distinct', () => {
    const codes = {
      succeeded: exitOf(job('succeeded', 0)),
      failed: exitOf(job('failed', 2)),
      timeout: exitOf(job('timeout')),
      oom: exitOf(job('oom')),
      output_limit: exitOf(job('output_limit')),
      policy_violation: exitOf(job('policy_violation')),
      patch_failed: exitOf(job('patch_failed')),
      killed: exitOf(job('killed')),
      cancelled: exitOf(job('cancelled')),
      error: exitOf(job('error')),
    };
    expect(codes).toEqual({ succeeded: 0, failed: 2, timeout: 84, oom: 85, output_limit: 86, policy_violation: 87, patch_failed: 88, killed: 89, cancelled: 89, error: 83 });
    expect(Object.keys(codes).sort()).toEqual(JOB_STATES.filter((s) => s !== 'queued' && s !== 'running').sort());
    const own = Object.values(RUN_EXIT).filter((c) => c >= 80);
    expect(new Set(own).size).toBe(own.length);
    // a program's code in Airlock's range cannot pass for one of Airlock's
    expect(exitOf(job('failed', 84))).toBe(1);
  });
});
