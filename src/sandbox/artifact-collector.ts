/**
 * Parses the tar the collector streams out of a finished sandbox. The stream is hostile
 * input: only regular files and directories are accepted; symlinks, hard links, devices,
 * FIFOs, setuid/setgid files and unsafe names are refused and reported, never followed or
 * written anywhere. Matching files are kept in memory within the caps and hashed, and each is
 * appended, as it is read, to the artifacts tar the API serves (one pass: nothing is unpacked
 * and packed again).
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { extract, pack, type Header } from 'tar-stream';
import { compileGlob, matchesAny, SAFE_PATH_MAX_DEPTH, unsafePath } from '../shared/index.js';
import type { ArtifactsTar, CollectedArtifact, RejectedArtifact } from './sandbox-spec.js';

export interface CollectLimits {
  readonly artifactFiles: number;
  readonly artifactBytes: number;
}

export interface Collected {
  readonly artifacts: CollectedArtifact[];
  readonly rejected: RejectedArtifact[];
  /** The accepted files as one tar; absent when none was accepted. */
  readonly tar?: ArtifactsTar;
}

const MAX_REPORTED = 100;

/**
 * Maps a tar header to a safe relative path (`''` for the root), or the reason it is refused.
 * The shared safePath rule, so an artifact a staging target would refuse (`.git`, DEL, C1, too
 * deep…) is refused here, before anyone reviews it.
 */
export function safeEntryPath(name: string): { path: string } | { reason: 'unsafe_path' | 'too_deep' } {
  const trimmed = trimEntryName(name);
  if (trimmed === '' || trimmed === '.') return { path: '' };
  const unsafe = unsafePath(trimmed);
  if (unsafe === undefined) return { path: trimmed };
  return { reason: unsafe.problem === 'too_deep' ? 'too_deep' : 'unsafe_path' };
}

function typeReason(h: Header): RejectedArtifact['reason'] | undefined {
  switch (h.type) {
    case 'file':
    case 'contiguous-file':
    case 'directory':
      break;
    case 'symlink':
      return 'symlink';
    case 'link':
      return 'hardlink';
    case 'character-device':
    case 'block-device':
      return 'device';
    case 'fifo':
      return 'fifo';
    default:
      return 'unsupported_type';
  }
  if (((h.mode ?? 0) & 0o6000) !== 0) return 'setuid';
  return undefined;
}

export async function collectFromTar(stream: Readable, patterns: readonly string[], limits: CollectLimits): Promise<Collected> {
  const collection = new Collection(patterns, limits);
  const ex = extract();
  ex.on('entry', (header, body, next) => {
    const path = collection.admit(header);
    if (path === undefined) {
      body.on('end', next);
      body.resume();
      return;
    }
    const hash = createHash('sha256');
    const chunks: Buffer[] = [];
    body.on('data', (c: unknown) => {
      hash.update(c as Buffer);
      chunks.push(c as Buffer);
    });
    body.on('end', () => {
      collection.accept(path, Buffer.concat(chunks), hash.digest('hex'));
      next();
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      ex.on('finish', resolve);
      ex.on('error', reject);
      stream.on('error', reject);
      stream.pipe(ex);
    });
  } catch (err) {
    collection.discard();
    throw err;
  }
  return collection.result();
}

/** What one collection has accepted and refused so far, and its tar. */
class Collection {
  private readonly matchers: ReturnType<typeof compileGlob>[];
  private readonly seenPaths = new Set<string>();
  private readonly artifacts: CollectedArtifact[] = [];
  private readonly rejected: RejectedArtifact[] = [];
  private readonly tar = new TarBuilder();
  private totalBytes = 0;

  constructor(
    patterns: readonly string[],
    private readonly limits: CollectLimits,
  ) {
    this.matchers = patterns.map(compileGlob);
  }

  /** The path of a regular file to keep, or undefined (skipped, or refused and reported). */
  admit(header: Header): string | undefined {
    const safe = safeEntryPath(header.name);
    if ('reason' in safe) {
      // a tree deeper than the cap is reported where an output asked for it; the glob sees a
      // bounded path (the first segments), so matching stays cheap
      const name = trimEntryName(header.name);
      if (safe.reason === 'unsafe_path' || matchesAny(depthCapped(name), this.matchers)) this.reject(name.slice(0, 300), safe.reason);
      return undefined;
    }
    const path = safe.path;
    if (path === '' || !matchesAny(path, this.matchers)) return undefined;
    if (this.seenPaths.has(path)) return this.reject(path, 'unsafe_path');
    this.seenPaths.add(path);
    const bad = typeReason(header);
    if (bad !== undefined) return this.reject(path, bad);
    if (header.type === 'directory') return undefined;
    const size = header.size ?? 0;
    if (this.artifacts.length >= this.limits.artifactFiles) return this.reject(path, 'too_many_files');
    if (this.totalBytes + size > this.limits.artifactBytes) return this.reject(path, 'too_large');
    this.totalBytes += size;
    return path;
  }

  accept(path: string, content: Buffer, sha256: string): void {
    this.artifacts.push({ path, bytes: content.length, sha256, content });
    this.tar.add(path, content);
  }

  async result(): Promise<Collected> {
    const artifacts = [...this.artifacts].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    if (artifacts.length === 0) {
      this.tar.discard();
      return { artifacts, rejected: this.rejected };
    }
    return { artifacts, rejected: this.rejected, tar: await this.tar.finish() };
  }

  discard(): void {
    this.tar.discard();
  }

  private reject(path: string, reason: RejectedArtifact['reason']): undefined {
    if (this.rejected.length < MAX_REPORTED) this.rejected.push({ path, reason });
    return undefined;
  }
}

/** The artifacts tar, entry by entry as the files are accepted: regular files, mode 0644, mtime 0. */
class TarBuilder {
  private readonly out = pack();
  private readonly chunks: Uint8Array[] = [];
  private bytes = 0;
  private readonly ended: Promise<void>;

  constructor() {
    this.out.on('data', (data: unknown) => {
      const c = data as Uint8Array;
      this.chunks.push(c);
      this.bytes += c.length;
    });
    this.ended = new Promise<void>((resolve, reject) => {
      this.out.on('end', resolve);
      this.out.on('error', reject);
    });
    this.ended.catch(() => undefined);
  }

  add(path: string, content: Buffer): void {
    this.out.entry({ name: path, mode: 0o644, mtime: new Date(0), type: 'file' }, content);
  }

  async finish(): Promise<ArtifactsTar> {
    this.out.finalize();
    await this.ended;
    return { chunks: this.chunks, bytes: this.bytes };
  }

  discard(): void {
    this.out.destroy();
  }
}

/** A tar name as the collector writes it (`./out/dir/`) to the path it stands for (`out/dir`). */
function trimEntryName(name: string): string {
  return name.replace(/^\.\//, '').replace(/\/$/, '');
}

/** The first SAFE_PATH_MAX_DEPTH + 1 segments of a too-deep path: enough to know whether an output pattern covers it. */
function depthCapped(path: string): string {
  return path.split('/', SAFE_PATH_MAX_DEPTH + 1).join('/');
}
