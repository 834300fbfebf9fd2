/**
 * `npm run soak` (a benchmark, not a CI test; test/soak.chaos.test.ts runs 100 jobs): 1,000 mixed
 * jobs at 8 in flight through an API process and a worker process of their own (scripts/soak-run.ts),
 * then the figures as JSON.
 *
 *   node --import tsx scripts/soak.ts [--jobs 1000] [--in-flight 8] [--concurrency 8]
 */
import { parseArgs } from 'node:util';
import { runSoak } from './soak-run.js';

const { values } = parseArgs({
  options: { jobs: { type: 'string', default: '1000' }, 'in-flight': { type: 'string', default: '8' }, concurrency: { type: 'string', default: '8' } },
});

runSoak({ jobs: Number(values.jobs), inFlight: Number(values['in-flight']), concurrency: Number(values.concurrency), log: (l) => process.stderr.write(`${l}\n`) }).then(
  (report) => {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    process.exitCode = report.lost === 0 && report.leakedContainers === 0 && report.auditVerifyExit === 0 ? 0 : 1;
  },
  (err: unknown) => {
    process.stderr.write(`soak: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
