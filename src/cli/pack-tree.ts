/**
 * `airlock run`'s input: a directory packed as the API's `archive` (a base64 tar.gz). In a git
 * work tree only what git tracks is packed (plus `--include` globs, e.g. generated files);
 * elsewhere the directory minus `.git`. Checked here, before anything is sent, against the API's
 * own caps (INPUT_CAPS, from the client): a symlink, a file or a tree over a cap is an error that
 * names the cap and how to narrow the tree.
 */
import { execFile } from 'node:child_process';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { INPUT_CAPS } from '../client/index.js';
import { AppError, compileGlob } from '../root/index.js';

export interface PackedTree {
  /** base64 tar.gz, as POST /v1/jobs takes it. */
  readonly archive: string;
  readonly files: number;
  /** Bytes of the tar (what the API unpacks and caps). */
  readonly tarBytes: number;
  /** `git` when the tracked files were packed, `walk` for the directory as it is. */
  readonly source: 'git' | 'walk';
}

const run = promisify(execFile);
const MiB = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
const tooLarge = (message: string, cap: keyof typeof INPUT_CAPS) => new AppError('INPUT_TOO_LARGE', `${message} (the API's cap ${cap})`, { details: { cap } });

export async function packTree(dir: string, include: readonly string[] = []): Promise<PackedTree> {
  const tracked = await gitFiles(dir);
  const paths = new Set(tracked ?? (await walk(dir, dir)));
  if (include.length > 0) {
    const globs = include.map(compileGlob);
    for (const p of await walk(dir, dir)) if (globs.some((g) => g.test(p))) paths.add(p);
  }
  const entries: { path: string; content: Buffer; mode: number }[] = [];
  for (const path of [...paths].sort()) {
    const abs = join(dir, ...path.split('/'));
    const st = await lstat(abs).catch(() => undefined);
    if (st === undefined) continue; // tracked but deleted in the work tree: not part of it now
    if (st.isSymbolicLink())
      throw new AppError(
        'INVALID_ARCHIVE',
        `${path} is a symlink; the API takes regular files only. Replace it with the file, or leave it out of the tree (git rm --cached, or --dir)`,
        {
          details: { path },
        },
      );
    if (!st.isFile()) throw new AppError('INVALID_ARCHIVE', `${path} is not a regular file (the API takes regular files only)`, { details: { path } });
    if (st.size > INPUT_CAPS.archiveBytes)
      throw tooLarge(`${path} is ${MiB(st.size)}, more than the whole archive may unpack to (${MiB(INPUT_CAPS.archiveBytes)}); leave it out of the tree`, 'archiveBytes');
    entries.push({ path, content: await readFile(abs), mode: st.mode & 0o111 ? 0o755 : 0o644 });
  }
  if (entries.length > INPUT_CAPS.archiveEntries)
    throw tooLarge(`the tree has ${entries.length} files, more than ${INPUT_CAPS.archiveEntries}; run from a smaller --dir`, 'archiveEntries');
  const tar = tarOf(entries);
  if (tar.length > INPUT_CAPS.archiveBytes) {
    const largest = [...entries]
      .sort((a, b) => b.content.length - a.content.length)
      .slice(0, 5)
      .map((e) => `${e.path} (${MiB(e.content.length)})`);
    throw tooLarge(
      `the tree packs to ${MiB(tar.length)}, more than ${MiB(INPUT_CAPS.archiveBytes)}; narrow it with --dir or leave large files out (largest: ${largest.join(', ')})`,
      'archiveBytes',
    );
  }
  return { archive: gzipSync(tar).toString('base64'), files: entries.length, tarBytes: tar.length, source: tracked === undefined ? 'walk' : 'git' };
}

/** The tracked files under `dir` (relative, POSIX), or undefined when `dir` is not in a git work tree. */
async function gitFiles(dir: string): Promise<string[] | undefined> {
  try {
    const inside = await run('git', ['-C', dir, 'rev-parse', '--is-inside-work-tree'], { encoding: 'utf8' });
    if (inside.stdout.trim() !== 'true') return undefined;
  } catch {
    return undefined;
  }
  const { stdout } = await run('git', ['-C', dir, 'ls-files', '-z', '--cached', '--', '.'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return stdout.split('\0').filter((p) => p !== '');
}

/** Every file and link under `dir` (relative, POSIX), `.git` left out. */
async function walk(root: string, dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const d of await readdir(dir, { withFileTypes: true })) {
    if (d.name === '.git') continue;
    const abs = join(dir, d.name);
    if (d.isDirectory()) out.push(...(await walk(root, abs)));
    else out.push(relative(root, abs).split(sep).join('/'));
  }
  return out;
}

/** A ustar archive of regular files (mtime 0, owner 0): names up to 100 bytes, or a 155-byte prefix plus 100. */
export function tarOf(entries: readonly { path: string; content: Buffer; mode: number }[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const header = Buffer.alloc(512);
    const [prefix, name] = splitName(e.path);
    header.write(name, 0, 100, 'utf8');
    header.write(octal(e.mode, 8), 100);
    header.write(octal(0, 8), 108);
    header.write(octal(0, 8), 116);
    header.write(octal(e.content.length, 12), 124);
    header.write(octal(0, 12), 136);
    header.write('        ', 148);
    header.write('0', 156);
    header.write('ustar\u000000', 257, 'binary');
    header.write(prefix, 345, 155, 'utf8');
    let sum = 0;
    for (const b of header) sum += b;
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'binary');
    blocks.push(header, e.content, Buffer.alloc((512 - (e.content.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

function splitName(path: string): [string, string] {
  if (Buffer.byteLength(path) <= 100) return ['', path];
  for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100) return [prefix, name];
  }
  throw new AppError('INVALID_PATH', `${path}: the path is too long to pack (a name of 100 bytes in a folder of 155)`, { details: { path } });
}

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, '0')}\0`;
}
