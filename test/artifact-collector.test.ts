/**
 * The collector builds the artifacts tar while it parses the sandbox's stream (one pass): the
 * tar holds exactly the accepted files, as regular files with mode 0644 and mtime 0, and the
 * refused ones are only reported.
 */
import { PassThrough, Readable } from 'node:stream';
import { extract, pack } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { collectFromTar } from '../src/sandbox/index.js';
import { sha256Hex } from '../src/shared/index.js';

/** A tar as the in-sandbox collector streams it (`./`-prefixed names, directories, links). */
function sandboxTar(): PassThrough {
  const p = pack();
  p.entry({ name: './out/', type: 'directory', mode: 0o755 });
  p.entry({ name: './out/b.txt', type: 'file', mode: 0o600, mtime: new Date(1_700_000_000_000) }, 'bee');
  p.entry({ name: './out/a.txt', type: 'file', mode: 0o755 }, 'a');
  p.entry({ name: './out/leak', type: 'symlink', linkname: '/etc/passwd' });
  p.entry({ name: './out/big.bin', type: 'file', mode: 0o644 }, Buffer.alloc(2000));
  p.entry({ name: './skip.log', type: 'file', mode: 0o644 }, 'not an output');
  p.finalize();
  return p.pipe(new PassThrough());
}

async function entries(
  chunks: readonly Uint8Array[],
): Promise<{ name: string; mode: number | undefined; mtime: number | undefined; type: string | null | undefined; body: string }[]> {
  const out: { name: string; mode: number | undefined; mtime: number | undefined; type: string | null | undefined; body: string }[] = [];
  const ex = extract();
  ex.on('entry', (h, body, next) => {
    const parts: Buffer[] = [];
    body.on('data', (c: unknown) => parts.push(c as Buffer));
    body.on('end', () => {
      out.push({ name: h.name, mode: h.mode, mtime: h.mtime?.getTime(), type: h.type, body: Buffer.concat(parts).toString() });
      next();
    });
  });
  await new Promise<void>((resolve, reject) => {
    ex.on('finish', resolve);
    ex.on('error', reject);
    Readable.from([Buffer.concat(chunks)]).pipe(ex);
  });
  return out;
}

describe('collectFromTar builds the artifacts tar in the same pass', () => {
  it('holds exactly the accepted files (0644, mtime 0), in the order they were read', async () => {
    const got = await collectFromTar(sandboxTar(), ['out/**'], { artifactFiles: 10, artifactBytes: 1000 });
    expect(got.artifacts.map((a) => ({ path: a.path, bytes: a.bytes, sha256: a.sha256 }))).toEqual([
      { path: 'out/a.txt', bytes: 1, sha256: sha256Hex('a') },
      { path: 'out/b.txt', bytes: 3, sha256: sha256Hex('bee') },
    ]);
    expect(got.rejected).toEqual([
      { path: 'out/leak', reason: 'symlink' },
      { path: 'out/big.bin', reason: 'too_large' },
    ]);
    const tar = got.tar!;
    expect(tar.bytes).toBe(tar.chunks.reduce((n, c) => n + c.length, 0));
    expect(await entries(tar.chunks)).toEqual([
      { name: 'out/b.txt', mode: 0o644, mtime: 0, type: 'file', body: 'bee' },
      { name: 'out/a.txt', mode: 0o644, mtime: 0, type: 'file', body: 'a' },
    ]);
  });

  it('no accepted file: no tar', async () => {
    const got = await collectFromTar(sandboxTar(), ['nothing/**'], { artifactFiles: 10, artifactBytes: 1000 });
    expect(got).toEqual({ artifacts: [], rejected: [] });
  });
});
