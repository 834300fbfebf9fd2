/**
 * Artifact garbage collection over a real folder store and the real Redis: what is referenced,
 * young or pinned stays, the rest goes (a dry run removes nothing), and the race the pins exist
 * for: a job storing the digest the collector is removing (its pin waits the deletion out and
 * stores it again; a pin taken first keeps it), then many of both at once, every recorded
 * reference left pointing at a blob that is there.
 */
import { mkdtemp, rm, stat, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArtifactPins, collectArtifacts, FileArtifactStore, PinningArtifactStore, type ArtifactGcOptions, type ReferenceSource } from '../src/artifacts/index.js';
import { sha256Hex, systemClock } from '../src/shared/index.js';
import { deletePrefix, testRedis, uniquePrefix } from './helpers/redis.js';

let redis: Redis;
let dir: string;
const prefixes: string[] = [];

beforeAll(async () => {
  redis = testRedis();
  dir = await mkdtemp(join(tmpdir(), 'airlock-gc-'));
});
afterAll(async () => {
  for (const p of prefixes) await deletePrefix(redis, p);
  redis.disconnect();
  await rm(dir, { recursive: true, force: true });
});

const HOUR_MS = 3_600_000;

/** A store whose removals wait for `gate` when one is set (the collector caught mid-delete). */
class GatedStore extends FileArtifactStore {
  gate: Promise<void> | undefined;
  removing: (() => void) | undefined;
  override async remove(sha256: string): Promise<void> {
    this.removing?.();
    if (this.gate !== undefined) await this.gate;
    await super.remove(sha256);
  }
}

function world(name: string) {
  const prefix = uniquePrefix(name);
  prefixes.push(prefix);
  const raw = new GatedStore(join(dir, prefix));
  const pins = new ArtifactPins(redis, prefix, systemClock);
  const store = new PinningArtifactStore(raw, pins);
  const refs = new Set<string>();
  // what the records say when the collector reads them
  const source: ReferenceSource = async function* () {
    yield* await Promise.resolve([...refs]);
  };
  const gc = (dryRun = false, minAgeMs = HOUR_MS) => {
    const o: ArtifactGcOptions = { store, pins, references: [source], minAgeMs, clock: systemClock };
    return collectArtifacts(o, { dryRun });
  };
  return { raw, pins, store, refs, gc, path: (d: string) => join(dir, prefix, d.slice(0, 2), d) };
}

/** Makes a stored blob look written `ageMs` ago. */
async function age(path: string, ageMs: number): Promise<void> {
  const t = new Date(Date.now() - ageMs);
  await utimes(path, t, t);
}
const present = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

describe('mark and sweep', () => {
  it('removes only old, unreferenced, unpinned blobs; a dry run removes nothing', async () => {
    const w = world('gc-sweep');
    const kept = await w.raw.put(Buffer.from('referenced'));
    const garbage = await w.raw.put(Buffer.from('garbage'));
    const young = await w.raw.put(Buffer.from('young'));
    const pinned = await w.raw.put(Buffer.from('pinned'));
    for (const d of [kept, garbage, pinned]) await age(w.path(d), 2 * HOUR_MS);
    w.refs.add(kept);
    await w.pins.pin([pinned]);

    const dry = await w.gc(true);
    expect(dry).toMatchObject({ dryRun: true, blobs: 4, referenced: 1, young: 1, pinned: 1, removed: 1, removedDigests: [garbage] });
    expect(await present(w.path(garbage))).toBe(true);

    const real = await w.gc(false);
    expect(real).toMatchObject({ dryRun: false, removed: 1, removedDigests: [garbage], removedBytes: 'garbage'.length });
    expect(await present(w.path(garbage))).toBe(false);
    for (const d of [kept, young, pinned]) expect(await present(w.path(d))).toBe(true);
    // a blob written again is young again (the file store refreshes it on a put of the same content)
    await age(w.path(kept), 2 * HOUR_MS);
    w.refs.delete(kept);
    await w.raw.put(Buffer.from('referenced'));
    expect((await w.gc(false)).removed).toBe(0);
  });
});

describe('GC concurrent with a job storing the same digest', () => {
  it('a store that arrives while the blob is being removed waits, then stores it again', async () => {
    const w = world('gc-race-after');
    const content = Buffer.from('the same bytes');
    const d = await w.raw.put(content);
    await age(w.path(d), 2 * HOUR_MS);
    let open!: () => void;
    w.raw.gate = new Promise((r) => (open = r));
    const removing = new Promise<void>((r) => (w.raw.removing = r));
    const collecting = w.gc(false);
    // condemned, mid-delete
    await removing;
    let stored = false;
    const storing = w.store.put(content).then(() => (stored = true));
    await new Promise((r) => setTimeout(r, 300));
    expect(stored).toBe(false);
    open();
    expect((await collecting).removedDigests).toEqual([d]);
    await storing;
    // the job's result now references it, and it is there
    w.refs.add(d);
    expect(await present(w.path(d))).toBe(true);
    expect(await w.store.read(d)).toEqual(content);
  });

  it('a store whose pin came first keeps the blob, though no record references it yet', async () => {
    const w = world('gc-race-before');
    const content = Buffer.from('pinned first');
    const d = await w.raw.put(content);
    await age(w.path(d), 2 * HOUR_MS);
    await w.store.put(content);
    await age(w.path(d), 2 * HOUR_MS);
    expect(await w.gc(false)).toMatchObject({ removed: 0, pinned: 1 });
    expect(await present(w.path(d))).toBe(true);
  });

  it('many stores and collections at once: every recorded reference points at a blob that is there', async () => {
    const w = world('gc-race-many');
    const contents = Array.from({ length: 20 }, (_, i) => Buffer.from(`blob ${i}`));
    for (const c of contents) await age(w.path(await w.raw.put(c)), 2 * HOUR_MS);
    // the collector sees everything as old and unreferenced except what is recorded; pins are what protects the rest
    const jobs = contents.map(async (c, i) => {
      await new Promise((r) => setTimeout(r, (i % 5) * 7));
      const d = await w.store.put(c);
      w.refs.add(d);
      return d;
    });
    const sweeps = [0, 5, 10, 20, 40].map(async (ms) => {
      await new Promise((r) => setTimeout(r, ms));
      return w.gc(false, 0);
    });
    const [recorded] = await Promise.all([Promise.all(jobs), Promise.all(sweeps)]);
    for (const d of recorded) {
      expect(await present(w.path(d))).toBe(true);
      expect(sha256Hex(await w.store.read(d))).toBe(d);
    }
  });
});
