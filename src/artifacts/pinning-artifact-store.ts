/**
 * Every write through the deployment's artifact store pins its digest first (artifact-pins.ts), so
 * the garbage collector never deletes a blob that a job or promotion is about to reference, even
 * one that was already stored and that it has just found unreferenced: the pin waits out a
 * deletion in progress, then the blob is stored (again). Reads and the collector's listing pass
 * through.
 */
import { createHash } from 'node:crypto';
import { sha256Hex } from '../shared/index.js';
import type { ArtifactPins } from './artifact-pins.js';
import type { CollectableArtifactStore, StoredBlob } from './artifact-store.js';

export class PinningArtifactStore implements CollectableArtifactStore {
  constructor(
    private readonly inner: CollectableArtifactStore,
    private readonly pins: ArtifactPins,
  ) {}

  async put(content: Uint8Array): Promise<string> {
    await this.pins.pin([sha256Hex(content)]);
    return this.inner.put(content);
  }

  /** The parts are hashed before they are stored (the digest is pinned first): an async source is read into memory once. */
  async putParts(parts: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<string> {
    const list: Uint8Array[] = [];
    for await (const p of parts) list.push(p);
    const hash = createHash('sha256');
    for (const p of list) hash.update(p);
    await this.pins.pin([hash.digest('hex')]);
    return this.inner.putParts(list);
  }

  read(sha256: string): Promise<Buffer> {
    return this.inner.read(sha256);
  }

  has(sha256: string): Promise<boolean> {
    return this.inner.has(sha256);
  }

  list(): AsyncIterable<StoredBlob> {
    return this.inner.list();
  }

  remove(sha256: string): Promise<void> {
    return this.inner.remove(sha256);
  }
}
