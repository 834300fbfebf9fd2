/** The file adapter of the ArtifactStore port: content-addressed, stored once, digest re-checked on read, parts hashed as written. */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileArtifactStore, type ArtifactStore } from '../src/artifacts/index.js';
import { sha256Hex } from '../src/shared/index.js';

let dir: string;
let store: ArtifactStore;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-artifacts-'));
  store = new FileArtifactStore(dir);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('FileArtifactStore', () => {
  it('put returns the sha256; read gives the bytes back; has knows it', async () => {
    const sha = await store.put(Buffer.from('hello'));
    expect(sha).toBe(sha256Hex('hello'));
    expect((await store.read(sha)).toString()).toBe('hello');
    expect(await store.has(sha)).toBe(true);
    expect(await store.has(sha256Hex('other'))).toBe(false);
    expect(await store.has('not-a-digest')).toBe(false);
  });

  it('putParts stores the joined parts under their digest, from a sync or an async source, leaving no temporary file', async () => {
    const parts = [Buffer.from('ab'), Buffer.alloc(0), Buffer.from('cd')];
    const expected = createHash('sha256').update('abcd').digest('hex');
    expect(await store.putParts(parts)).toBe(expected);
    // a stream: the async source a collector or an upload hands over
    expect(await store.putParts(Readable.from(parts))).toBe(expected);
    expect((await store.read(expected)).toString()).toBe('abcd');
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('a blob changed in the store is ARTIFACT_CORRUPT; an unknown or malformed name is ARTIFACT_NOT_FOUND', async () => {
    const sha = await store.put(Buffer.from('original'));
    await writeFile(join(dir, sha.slice(0, 2), sha), 'tampered');
    await expect(store.read(sha)).rejects.toMatchObject({ code: 'ARTIFACT_CORRUPT' });
    await expect(store.read(sha256Hex('never stored'))).rejects.toMatchObject({ code: 'ARTIFACT_NOT_FOUND' });
    await expect(store.read('../../etc/passwd')).rejects.toMatchObject({ code: 'ARTIFACT_NOT_FOUND' });
  });
});
