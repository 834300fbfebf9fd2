/**
 * Parses the tar the collector streams out of a finished sandbox. The stream is hostile
 * input: only regular files and directories are accepted; symlinks, hard links, devices,
 * FIFOs, setuid/setgid files and unsafe names are refused and reported, never followed or
 * written anywhere. Matching files are kept in memory within the caps and hashed.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { extract, type Header } from 'tar-stream';
import { compileGlob, matchesAny, SAFE_PATH_MAX_DEPTH, unsafePath } from '../shared/index.js';
import type { CollectedArtifact, RejectedArtifact } from './sandbox-spec.js';

export interface CollectLimits {
  readonly artifactFiles: number;
  readonly artifactBytes: number;
}

export interface Collected {
  readonly artifacts: CollectedArtifact[];
  readonly rejected: RejectedArtifact[];
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
  const matchers = patterns.map(compileGlob);
  const seenPaths = new Set<string>();
  const artifacts: CollectedArtifact[] = [];
  const rejected: RejectedArtifact[] = [];
  let totalBytes = 0;
  const reject = (path: string, reason: RejectedArtifact['reason']) => {
    if (rejected.length < MAX_REPORTED) rejected.push({ path, reason });
  };

  const ex = extract();
  ex.on('entry', (header, body, next) => {
    const drain = () => {
      body.on('end', next);
      body.resume();
    };
    const safe = safeEntryPath(header.name);
    if ('reason' in safe) {
      // a tree deeper than the cap is reported where an output asked for it; the glob sees a
      // bounded path (the first segments), so matching stays cheap
      const name = trimEntryName(header.name);
      if (safe.reason === 'unsafe_path' || matchesAny(depthCapped(name), matchers)) reject(name.slice(0, 300), safe.reason);
      return drain();
    }
    const path = safe.path;
    if (path === '' || !matchesAny(path, matchers)) return drain();
    if (seenPaths.has(path)) {
      reject(path, 'unsafe_path');
      return drain();
    }
    seenPaths.add(path);
    const bad = typeReason(header);
    if (bad !== undefined) {
      reject(path, bad);
      return drain();
    }
    if (header.type === 'directory') return drain();
    const size = header.size ?? 0;
    if (artifacts.length >= limits.artifactFiles) {
      reject(path, 'too_many_files');
      return drain();
    }
    if (totalBytes + size > limits.artifactBytes) {
      reject(path, 'too_large');
      return drain();
    }
    totalBytes += size;
    const hash = createHash('sha256');
    const chunks: Buffer[] = [];
    body.on('data', (c: unknown) => {
      hash.update(c as Buffer);
      chunks.push(c as Buffer);
    });
    body.on('end', () => {
      const content = Buffer.concat(chunks);
      artifacts.push({ path, bytes: content.length, sha256: hash.digest('hex'), content });
      next();
    });
  });

  await new Promise<void>((resolve, reject_) => {
    ex.on('finish', resolve);
    ex.on('error', reject_);
    stream.on('error', reject_);
    stream.pipe(ex);
  });
  artifacts.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { artifacts, rejected };
}

/** A tar name as the collector writes it (`./out/dir/`) to the path it stands for (`out/dir`). */
function trimEntryName(name: string): string {
  return name.replace(/^\.\//, '').replace(/\/$/, '');
}

/** The first SAFE_PATH_MAX_DEPTH + 1 segments of a too-deep path: enough to know whether an output pattern covers it. */
function depthCapped(path: string): string {
  return path.split('/', SAFE_PATH_MAX_DEPTH + 1).join('/');
}
