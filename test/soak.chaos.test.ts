/**
 * The soak in CI: 100 mixed jobs (succeed, fail, timeout, OOM, output flood, fork bomb, cancel
 * mid-run, artifacts) at 8 in flight through an API process and a worker process of their own
 * (scripts/soak-run.ts; `npm run soak` runs 1,000): none lost, none ending `error`, no container
 * left, the audit log verifies, and each kind ends as it should.
 */
import { expect, it } from 'vitest';
import { runSoak } from '../scripts/soak-run.js';

it('100 mixed jobs: none lost, nothing leaked, the audit log intact', async () => {
  const r = await runSoak({ jobs: 100, inFlight: 8, concurrency: 8 });
  expect(r).toMatchObject({ lost: 0, errors: 0, leakedContainers: 0, auditVerifyExit: 0 });
  expect(r.outcomes['succeed']).toEqual({ succeeded: expect.any(Number) as number });
  expect(r.outcomes['fail']).toEqual({ failed: expect.any(Number) as number });
  expect(r.outcomes['timeout']).toEqual({ timeout: expect.any(Number) as number });
  expect(r.outcomes['flood']).toEqual({ output_limit: expect.any(Number) as number });
  expect(r.outcomes['cancel']).toEqual({ killed: expect.any(Number) as number });
  expect(r.outcomes['artifacts']).toEqual({ succeeded: expect.any(Number) as number });
  // an OOM may also end as the program's own MemoryError (exit 1), a fork bomb as its shell's failure
  expect(Object.keys(r.outcomes['oom'] ?? {}).every((s) => ['oom', 'failed'].includes(s))).toBe(true);
  expect(Object.keys(r.outcomes['forkbomb'] ?? {}).every((s) => ['timeout', 'failed'].includes(s))).toBe(true);
}, 600_000);
