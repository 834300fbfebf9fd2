/**
 * `archive` input: a base64 tar.gz (e.g. a repository snapshot), checked and expanded HERE
 * into plain files, so nothing downstream ever extracts an untrusted archive. Accepts only
 * regular files and directories; refuses links, devices, FIFOs, setuid/setgid bits and
 * unsafe names, and caps unpacked size, entries, depth and compression ratio (gzip bombs).
 * A deliberately small ustar/pax/GNU reader: the API process does not load tar libraries.
 */
import { gunzipSync } from 'node:zlib';
import type { JobFileInput } from '../queue/index.js';
import { AppError } from '../shared/index.js';
import { checkPath, checkTreeConflicts } from './check-path.js';
import { INPUT_CAPS } from './input-caps.js';

const BLOCK = 512;

const capError = (cap: keyof typeof INPUT_CAPS, message: string) => new AppError('INPUT_TOO_LARGE', `${message} (cap ${cap})`, { details: { cap } });
const invalid = (message: string, path?: string) => new AppError('INVALID_ARCHIVE', message, { details: path === undefined ? {} : { path: path.slice(0, 300) } });

export function expandArchive(base64: string): JobFileInput[] {
  const gz = Buffer.from(base64, 'base64');
  let tar: Buffer;
  try {
    // stop inflating one byte past the cap: a bomb never reaches memory
    tar = gunzipSync(gz, { maxOutputLength: INPUT_CAPS.archiveBytes + 1 });
  } catch (err) {
    if (err instanceof RangeError || /larger than|maxOutputLength|buffer/i.test((err as Error).message)) {
      throw capError('archiveBytes', `the archive unpacks to more than ${INPUT_CAPS.archiveBytes} bytes`);
    }
    throw invalid(`archive is not valid gzip: ${(err as Error).message}`);
  }
  if (tar.length > INPUT_CAPS.archiveBytes) throw capError('archiveBytes', `the archive unpacks to more than ${INPUT_CAPS.archiveBytes} bytes`);
  if (tar.length > 1024 * 1024 && tar.length / Math.max(1, gz.length) > INPUT_CAPS.archiveRatio) {
    throw capError('archiveRatio', `the archive's compression ratio exceeds ${INPUT_CAPS.archiveRatio}:1`);
  }
  return readTar(tar);
}

function readTar(tar: Buffer): JobFileInput[] {
  const files: JobFileInput[] = [];
  const seen = new Set<string>();
  let offset = 0;
  let entries = 0;
  let longName: string | undefined;
  let pax: Record<string, string> = {};
  while (offset + BLOCK <= tar.length) {
    const header = tar.subarray(offset, offset + BLOCK);
    if (header.every((b) => b === 0)) break; // end of archive
    if (!checksumOk(header)) throw invalid(`archive header at byte ${offset} has a bad checksum`);
    const type = String.fromCharCode(header[156] ?? 0);
    const size = octal(header.subarray(124, 136));
    const mode = octal(header.subarray(100, 108));
    const dataStart = offset + BLOCK;
    if (size < 0 || dataStart + size > tar.length) throw invalid(`archive entry at byte ${offset} runs past the end`);
    const data = tar.subarray(dataStart, dataStart + size);
    offset = dataStart + Math.ceil(size / BLOCK) * BLOCK;

    if (type === 'x') {
      pax = parsePax(data);
      continue;
    }
    if (type === 'g') continue; // global pax header: nothing we use
    if (type === 'L') {
      longName = data.toString('utf8').replace(/\0.*$/s, '');
      continue;
    }
    if (type === 'K') throw invalid('archive contains a GNU long link name (links are refused)');

    entries += 1;
    if (entries > INPUT_CAPS.archiveEntries) throw capError('archiveEntries', `the archive has more than ${INPUT_CAPS.archiveEntries} entries`);
    const rawName = pax['path'] ?? longName ?? ustarName(header);
    pax = {};
    longName = undefined;
    const name = rawName.replace(/^(\.\/)+/, '').replace(/\/$/, '');

    const kind = TYPES[type];
    if (kind === undefined || (kind !== 'file' && kind !== 'directory'))
      throw invalid(
        `archive entry ${JSON.stringify(name.slice(0, 200))} is a ${kind ?? `type ${JSON.stringify(type)} entry`}; only regular files and directories are accepted`,
        name,
      );
    if ((mode & 0o6000) !== 0) throw invalid(`archive entry ${JSON.stringify(name.slice(0, 200))} has the setuid/setgid bit`, name);
    if (name === '' || name === '.') continue;
    if (name.split('/').length > INPUT_CAPS.archiveDepth)
      throw capError('archiveDepth', `archive entry ${JSON.stringify(name.slice(0, 200))} is deeper than ${INPUT_CAPS.archiveDepth} levels`);
    const path = checkPath(name, INPUT_CAPS.archiveDepth);
    if (kind === 'directory') continue; // directories are implied by the files in them
    if (seen.has(path)) throw invalid(`archive contains ${JSON.stringify(path)} twice`, path);
    seen.add(path);
    files.push({ path, content: data.toString('base64'), encoding: 'base64', ...(mode & 0o111 ? { executable: true } : {}) });
  }
  try {
    checkTreeConflicts(files.map((f) => f.path));
  } catch (err) {
    throw invalid((err as Error).message);
  }
  return files;
}

const TYPES: Record<string, string> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '5': 'directory',
  '1': 'hard link',
  '2': 'symlink',
  '3': 'character device',
  '4': 'block device',
  '6': 'FIFO',
};

function ustarName(h: Buffer): string {
  const name = cstr(h.subarray(0, 100));
  const magic = h.subarray(257, 262).toString('latin1');
  const prefix = magic === 'ustar' ? cstr(h.subarray(345, 500)) : '';
  return prefix ? `${prefix}/${name}` : name;
}

function cstr(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.subarray(0, nul === -1 ? b.length : nul).toString('utf8');
}

/** Octal numeric field; base-256 (high bit) sizes are refused as too large. */
function octal(b: Buffer): number {
  if (((b[0] ?? 0) & 0x80) !== 0) return -1;
  const s = cstr(b).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) return -1;
  return parseInt(s, 8);
}

function checksumOk(h: Buffer): boolean {
  const stored = octal(h.subarray(148, 156));
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  return stored === sum;
}

/** pax records: "<len> <key>=<value>\n". */
function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp === -1) break;
    const len = parseInt(data.subarray(i, sp).toString('latin1'), 10);
    if (!Number.isFinite(len) || len <= 0 || i + len > data.length) throw invalid('archive has a malformed pax header');
    const rec = data.subarray(sp + 1, i + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  if (out['linkpath'] !== undefined) throw invalid('archive contains a link (pax linkpath)');
  return out;
}
