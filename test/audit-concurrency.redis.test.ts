import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Checkpointer, parseRecord, type AuditRecord } from '../src/audit/index.js';
import { systemClock } from '../src/shared/index.js';
import { auditHarness, type AuditHarness } from './fixtures/audit/harness.js';

const APPENDER = fileURLToPath(new URL('./fixtures/audit/appender.ts', import.meta.url));
const PROCESSES = 4;
const PER_PROCESS = 150;

const canonicalActor = (r: AuditRecord) => JSON.stringify(r.actor);

/** Starts an appender; `ready` settles once it is connected, `done` when it exits. */
function startAppender(prefix: string, n: number, workerId: string): { ready: Promise<void>; done: Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', APPENDER, prefix, String(n), workerId], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`appender ${workerId} exited ${code}: ${stderr}`))));
  });
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve();
    });
    done.then(() => reject(new Error(`appender ${workerId} exited before it was ready`)), reject);
  });
  return { ready, done };
}

describe('concurrent appends from several processes', () => {
  let h: AuditHarness;
  beforeAll(async () => {
    h = await auditHarness('audit-concurrency');
  });
  afterAll(async () => {
    await h.cleanup();
  });

  it('produce one unbroken chain, checkpointed while it grows', async () => {
    // A real-clock checkpointer runs alongside, as it would in production.
    const checkpointer = new Checkpointer({
      store: h.store,
      key: h.key,
      sink: h.sink,
      clock: systemClock,
      everyRecords: 25,
      everyMs: 60_000,
      pollMs: 5,
    });
    checkpointer.start();
    try {
      const children = Array.from({ length: PROCESSES }, (_, i) => startAppender(h.prefix, PER_PROCESS, `w${i}`));
      await Promise.all(children.map((c) => c.ready));
      await h.redis.lpush(`{${h.prefix}}:test:go`, ...children.map(() => 'go'));
      await Promise.all(children.map((c) => c.done));
    } finally {
      await checkpointer.stop();
    }
    await checkpointer.checkpointNow();

    const total = PROCESSES * PER_PROCESS;
    const result = await h.verify({ clock: systemClock });
    expect(result).toEqual({ ok: true, records: total, lastSeq: total, lastCheckpointSeq: total });

    const raws = await h.store.readRaw(1, total + 1);
    expect(raws[total]).toBeNull();
    const records = raws.map((raw) => parseRecord(raw!)).filter((r): r is AuditRecord => r !== null);
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    // every event of every process is there exactly once, each process's in its own order
    for (let w = 0; w < PROCESSES; w += 1) {
      const mine = records.filter((r) => r.actor.type === 'worker' && r.actor.workerId === `w${w}`).map((r) => r.details?.['i']);
      expect(mine).toEqual(Array.from({ length: PER_PROCESS }, (_, i) => i));
    }
    // the processes really overlapped: the chain switches writer far more often than once per process
    const switches = records.filter((r, i) => i > 0 && canonicalActor(r) !== canonicalActor(records[i - 1]!)).length;
    expect(switches).toBeGreaterThan(PROCESSES * 10);
    const checkpoints = await h.sink.readAll();
    expect(checkpoints.length).toBeGreaterThan(1);
  });
});
