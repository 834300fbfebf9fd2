/**
 * Parses the tar the collector streams out of a finished sandbox. The stream is hostile
 * input: only regular files and directories are accepted; symlinks, hard links, devices,
 * FIFOs, setuid/setgid files and unsafe names are refused and reported, never followed or
 * written anywhere. Matching files are kept in memory within the caps and hashed.
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { extract, type Header } from 'tar-stream';
import { compileGlob, matchesAny } from '../shared/index.js';
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

/** Maps a tar header to a safe relative path, or the reason it is refused. */
export function safeEntryPath(name: string): { path: string } | { reason: 'unsafe_path' } {
  const trimmed = name.replace(/^\.\//, '').replace(/\/$/, '');
  // a name that was not valid UTF-8 decodes to U+FFFD: two such names could collide
  if (trimmed.includes('\uFFFD')) return { reason: 'unsafe_path' };
  if (trimmed === '' || trimmed === '.') return { path: '' };
  // eslint-disable-next-line no-control-regex
  if (trimmed.startsWith('/') || /[\u0000-\u001f\\]/.test(trimmed)) return { reason: 'unsafe_path' };
  const norm = posix.normalize(trimmed);
  if (norm !== trimmed || norm.split('/').includes('..') || posix.isAbsolute(norm)) return { reason: 'unsafe_path' };
  return { path: norm };
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
      reject(header.name.slice(0, 300), safe.reason);
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
