/** The warm-pool gauges of /metrics: each pool's figures summed over the live workers at a scrape. */
import { describe, expect, it } from 'vitest';
import { PromMetrics } from '../src/api/index.js';
import { parseExposition } from './helpers/prom-text.js';

const pool = (target: number, ready: number, creating: number, hits: number, waited: number, misses: number) => ({ target, ready, creating, hits, waited, misses, failures: 7 });

describe('PromMetrics.refresh: warm pools', () => {
  it('sums each pool over the workers, and a pool no worker reports any more is dropped', async () => {
    const m = new PromMetrics();
    m.refresh({
      queue: {},
      workers: [
        { engineOk: true, pool: { python: pool(4, 3, 1, 10, 2, 1), node: pool(2, 2, 0, 5, 0, 0) } },
        { engineOk: false, pool: { python: pool(4, 4, 0, 20, 1, 3) } },
        { engineOk: true },
      ],
      promotions: {},
      lastVerify: null,
    });
    const e = parseExposition(await m.text());
    expect([
      e.value('airlock_pool_containers', { pool: 'python', state: 'target' }),
      e.value('airlock_pool_containers', { pool: 'python', state: 'ready' }),
      e.value('airlock_pool_containers', { pool: 'python', state: 'creating' }),
    ]).toEqual([8, 7, 1]);
    expect(['hit', 'waited', 'miss'].map((result) => e.value('airlock_pool_claims', { pool: 'python', result }))).toEqual([30, 3, 4]);
    expect(['hit', 'waited', 'miss'].map((result) => e.value('airlock_pool_claims', { pool: 'node', result }))).toEqual([5, 0, 0]);

    m.refresh({ queue: {}, workers: [{ engineOk: true, pool: { node: pool(2, 1, 1, 6, 0, 0) } }], promotions: {}, lastVerify: null });
    const after = parseExposition(await m.text());
    expect(after.value('airlock_pool_containers', { pool: 'python', state: 'target' })).toBeUndefined();
    expect(after.value('airlock_pool_claims', { pool: 'node', result: 'hit' })).toBe(6);
  });
});
