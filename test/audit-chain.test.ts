import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ChainWalker, type VerifyFailure } from '../src/audit/chain-walker.js';
import {
  AUDIT_ACTIONS,
  GENESIS_HASH,
  GENESIS_HEAD,
  checkpointSignatureValid,
  computeHash,
  hashMatches,
  nextRecord,
  signCheckpoint,
  signingKeyFromPem,
  type AuditEvent,
  type AuditRecord,
  type Checkpoint,
} from '../src/audit/index.js';
import { AppError, canonicalJson, sha256Hex } from '../src/shared/index.js';

const T0 = Date.parse('2025-01-01T00:00:00.000Z');
const event = (n: number): AuditEvent => ({
  actor: { type: 'key', keyId: 'key_abc', role: 'submitter' },
  action: 'job.submit',
  target: `job_${n}`,
});

function chain(n: number): AuditRecord[] {
  const out: AuditRecord[] = [];
  let prev = GENESIS_HEAD;
  for (let i = 1; i <= n; i += 1) {
    const r = nextRecord(prev, event(i), T0 + i * 1000);
    out.push(r);
    prev = r;
  }
  return out;
}

function rehash(r: Omit<AuditRecord, 'hash'> & { hash?: string }): AuditRecord {
  const { hash: _ignored, ...unhashed } = r;
  return { ...unhashed, hash: computeHash(unhashed) };
}

async function walk(raws: Array<string | null>, checkpoints = new Map<number, Checkpoint[]>()): Promise<VerifyFailure | null> {
  const walker = new ChainWalker(GENESIS_HEAD, checkpoints);
  const peek = (seq: number) => Promise.resolve(raws[seq - 1] ?? null);
  for (const [i, raw] of raws.entries()) {
    const problem = await walker.check(i + 1, raw, peek);
    if (problem) return problem;
  }
  return null;
}

const newKey = () => signingKeyFromPem(generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());

describe('audit records', () => {
  it('starts at seq 1 from the 64-zero genesis and hashes prevHash + canonical JSON without hash', () => {
    const r = nextRecord(GENESIS_HEAD, event(1), T0);
    expect(r.seq).toBe(1);
    expect(r.prevHash).toBe(GENESIS_HASH);
    expect(GENESIS_HASH).toMatch(/^0{64}$/);
    expect(r.time).toBe('2025-01-01T00:00:00.000Z');
    const { hash, ...unhashed } = r;
    expect(hash).toBe(sha256Hex(GENESIS_HASH + canonicalJson(unhashed)));
    expect(hashMatches(r)).toBe(true);
  });

  it('links each record to the one before it', () => {
    const [a, b, c] = chain(3);
    expect(b?.prevHash).toBe(a?.hash);
    expect(c?.prevHash).toBe(b?.hash);
    expect(c?.seq).toBe(3);
  });

  it('never lets time go backwards', () => {
    const a = nextRecord(GENESIS_HEAD, event(1), T0 + 5000);
    const b = nextRecord(a, event(2), T0);
    expect(b.time).toBe(a.time);
  });

  it('keeps optional fields and drops undefined ones from the hashed form', () => {
    const r = nextRecord(
      GENESIS_HEAD,
      {
        ...event(1),
        request: {
          method: 'POST',
          route: '/v1/jobs',
          ip: '10.0.0.1',
          params: { profile: 'python' },
          codeDigest: `sha256:${'ab'.repeat(32)}`,
        },
        outcome: { status: 202 },
        bytes: { request: 10, response: 20 },
        durationMs: 3,
        details: { note: undefined },
      },
      T0,
    );
    expect(r.request?.codeDigest).toBe(`sha256:${'ab'.repeat(32)}`);
    expect(r.details).toEqual({});
    expect(hashMatches(r)).toBe(true);
  });

  it('redacts the event before it becomes a record', () => {
    const r = nextRecord(GENESIS_HEAD, { ...event(1), request: { method: 'POST', route: '/v1/jobs', params: { env: { TOKEN: 'ak_key12345_s3cr3ts3cr3ts3cr3t' } } } }, T0);
    expect(JSON.stringify(r)).not.toContain('s3cr3t');
  });

  it('refuses an event outside the schema with INTERNAL', () => {
    const bad = { ...event(1), action: 'job.explode' } as unknown as AuditEvent;
    expect(() => nextRecord(GENESIS_HEAD, bad, T0)).toThrow(AppError);
    try {
      nextRecord(GENESIS_HEAD, bad, T0);
    } catch (err) {
      expect((err as AppError).code).toBe('INTERNAL');
    }
  });

  it('has one action list with the documented actions', () => {
    for (const a of [
      'job.submit',
      'job.start',
      'job.finish',
      'job.cancel',
      'job.read',
      'key.create',
      'key.revoke',
      'key.list',
      'auth.denied',
      'request',
      'audit.read',
      'audit.verify',
      'audit.export',
      'audit.trim',
      'credential.mint',
      'credential.revoke',
      'gateway.call',
      'promotion.request',
      'promotion.transition',
      'review.decision',
    ]) {
      expect(AUDIT_ACTIONS).toContain(a);
    }
  });
});

describe('chain walker', () => {
  const raws = (): Array<string | null> => chain(6).map((r) => canonicalJson(r));

  it('accepts an intact chain', async () => {
    expect(await walk(raws())).toBeNull();
  });

  it('reports an edited field as hash_mismatch at that seq', async () => {
    const r = raws();
    r[2] = r[2]!.replace('job_3', 'job_X');
    expect(await walk(r)).toMatchObject({ seq: 3, reason: 'hash_mismatch' });
  });

  it('reports an edited-and-rehashed record as prev_hash_mismatch at the next seq', async () => {
    const records = chain(6);
    const r = records.map((x) => canonicalJson(x));
    r[2] = canonicalJson(rehash({ ...records[2]!, target: 'job_X' }));
    expect(await walk(r)).toMatchObject({ seq: 4, reason: 'prev_hash_mismatch' });
  });

  it('reports a missing record as seq_gap', async () => {
    const r = raws();
    r[3] = null;
    expect(await walk(r)).toMatchObject({ seq: 4, reason: 'seq_gap' });
  });

  it('reports a swap as reordered and a copy as duplicate', async () => {
    const swapped = raws();
    [swapped[1], swapped[2]] = [swapped[2]!, swapped[1]!];
    expect(await walk(swapped)).toMatchObject({ seq: 2, reason: 'reordered' });
    const copied = raws();
    copied.splice(3, 0, copied[2]!);
    expect(await walk(copied)).toMatchObject({ seq: 4, reason: 'duplicate' });
  });

  it('reports a rehashed record with an earlier time as time_backwards', async () => {
    const records = chain(3);
    const early = rehash({ ...records[2]!, time: new Date(T0).toISOString() });
    const r = [canonicalJson(records[0]), canonicalJson(records[1]), canonicalJson(early)];
    expect(await walk(r)).toMatchObject({ seq: 3, reason: 'time_backwards' });
  });

  it('reports a record that differs from a signed checkpoint as checkpoint_mismatch', async () => {
    const key = newKey();
    const cp = signCheckpoint(key, { seq: 2, headHash: 'f'.repeat(64), timeMs: T0 });
    expect(await walk(raws(), new Map([[2, [cp]]]))).toMatchObject({ seq: 2, reason: 'checkpoint_mismatch' });
  });
});

describe('checkpoint signatures', () => {
  it('verifies with the signing key and fails for edits or unknown keys', () => {
    const key = newKey();
    const cp = signCheckpoint(key, { seq: 5, headHash: 'a'.repeat(64), timeMs: T0 });
    expect(cp.keyId).toBe(key.keyId);
    expect(checkpointSignatureValid(cp, [key])).toBe(true);
    expect(checkpointSignatureValid({ ...cp, seq: 6 }, [key])).toBe(false);
    expect(checkpointSignatureValid({ ...cp, headHash: 'b'.repeat(64) }, [key])).toBe(false);
    expect(checkpointSignatureValid({ ...cp, signature: 'AAAA' }, [key])).toBe(false);
    expect(checkpointSignatureValid(cp, [newKey()])).toBe(false);
  });
});
