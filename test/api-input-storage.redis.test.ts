/**
 * Storage amplification (issue 10): what a job's input occupies in Redis stays within a small
 * factor of what the client sent, even for an archive that expands 80-fold; the stored input
 * reads back exactly (the digest the worker records is the one recorded at submit); and every
 * key's stored bytes are counted, for admins in the job.submit record.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../src/audit/index.js';
import type { CreatedApiKey } from '../src/credentials/index.js';
import { codeDigestOf, RedisJobStore } from '../src/queue/index.js';
import { startTestAirlock, type TestAirlock } from './helpers/airlock.js';
import { testRedis } from './helpers/redis.js';

const MiB = 1024 * 1024;

/** A tar.gz of `files` files of `bytes` each: one pseudo-random KiB repeated (gzip finds the repeats). */
async function compressibleArchive(files: number, bytes: number): Promise<{ base64: string; tarBytes: number }> {
  const block = Buffer.concat(Array.from({ length: 32 }, (_, i) => createHash('sha256').update(`block ${i}`).digest()));
  const content = Buffer.alloc(bytes);
  for (let at = 0; at < bytes; at += block.length) block.copy(content, at);
  const tar = pack();
  const chunks: Buffer[] = [];
  tar.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    tar.on('end', resolve);
    tar.on('error', reject);
  });
  for (let i = 0; i < files; i += 1) tar.entry({ name: `data/part-${i}.bin`, size: bytes }, content);
  tar.entry({ name: 'main.sh', mode: 0o755 }, 'ls -l data\n');
  tar.finalize();
  await done;
  const raw = Buffer.concat(chunks);
  return { base64: gzipSync(raw, { level: 9 }).toString('base64'), tarBytes: raw.length };
}

describe('job input storage', () => {
  let t: TestAirlock;
  let redis: Redis;
  let agent: CreatedApiKey;

  beforeAll(async () => {
    t = await startTestAirlock('input-storage', { AIRLOCK_ROLE: 'api' });
    redis = testRedis();
    agent = await t.key('agent');
  });
  afterAll(async () => {
    redis?.disconnect();
    await t?.stop();
  });

  /** The job.submit record of a job, as an admin reads it. */
  const submitRecord = async (jobId: string): Promise<AuditRecord> => {
    const records = (await t.request('GET', `/v1/audit?target=${jobId}&action=job.submit`, (await t.key('admin')).key)).body.records as AuditRecord[];
    expect(records).toHaveLength(1);
    return records[0]!;
  };

  it('stores a highly compressible archive in about the bytes it was sent, and reads it back exactly', async () => {
    const { base64, tarBytes } = await compressibleArchive(12, MiB);
    const body = JSON.stringify({ runtime: 'shell', archive: base64, command: 'sh main.sh' });
    expect(tarBytes / Buffer.byteLength(body)).toBeGreaterThan(40); // the archive really does expand
    const res = await t.request('POST', '/v1/jobs', agent.key, body);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const id = res.body.id as string;

    const inputKey = `{${t.prefix}}:job:${id}:input`;
    const stored = await redis.strlen(inputKey);
    const memory = Number(await redis.call('MEMORY', 'USAGE', inputKey));
    expect(stored / Buffer.byteLength(body), `${stored} bytes stored for a ${Buffer.byteLength(body)}-byte request`).toBeLessThan(2);
    expect(memory).toBeLessThan(2 * Buffer.byteLength(body) + 64 * 1024);

    // what the worker will read is exactly what was accepted
    const input = await new RedisJobStore(redis, t.prefix, t.config.resultTtlS).getInput(id);
    expect(input?.files.map((f) => f.path).sort()).toEqual([...Array.from({ length: 12 }, (_, i) => `data/part-${i}.bin`), 'main.sh'].sort());
    expect(input?.files.find((f) => f.path === 'data/part-3.bin')?.content.length).toBe(Math.ceil(MiB / 3) * 4);
    const record = await submitRecord(id);
    expect(codeDigestOf(input!)).toBe(record.request?.codeDigest);
    expect(record.details).toMatchObject({ inputBytes: stored, keyInputBytes: stored, keyInputs: 1 });
  });

  it("counts each key's stored input bytes across its jobs", async () => {
    const k = await t.key('agent');
    const ids: string[] = [];
    for (const content of ['echo one', 'echo two, a little longer']) {
      const res = await t.request('POST', '/v1/jobs', k.key, { runtime: 'shell', files: [{ path: 'main.sh', content }] });
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      ids.push(res.body.id as string);
    }
    const sizes = await Promise.all(ids.map((id) => redis.strlen(`{${t.prefix}}:job:${id}:input`)));
    const second = await submitRecord(ids[1]!);
    expect(second.details).toMatchObject({ inputBytes: sizes[1], keyInputBytes: sizes[0]! + sizes[1]!, keyInputs: 2 });
  });
});
