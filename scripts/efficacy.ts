/**
 * `npm run efficacy`: measures the detectors on the labelled corpus (test/corpus) and writes
 * docs/detection-efficacy.md. The static part reads each job without running it (CI runs it:
 * no containers); `--full` also runs every job in the real sandbox through a real Airlock
 * (API, queue, worker: Redis and Docker needed) and measures what the pipeline reports.
 * `--check` writes nothing and exits 1 when the report's static part is stale.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { corpusDigest, loadCorpus } from '../test/corpus/corpus.js';
import { staticOutcomes } from './efficacy-measure.js';
import { fullBlockOf, renderDoc, summaryLines } from './efficacy-report.js';
import { keepAnomalySection } from './efficacy-anomaly.js';

export const REPORT = fileURLToPath(new URL('../docs/detection-efficacy.md', import.meta.url));

async function main(args: readonly string[]): Promise<number> {
  const cases = loadCorpus();
  const digest = corpusDigest();
  const existing = existsSync(REPORT) ? readFileSync(REPORT, 'utf8') : undefined;
  const measured = await staticOutcomes(cases);
  for (const line of summaryLines('static', measured)) console.log(line);
  let full = fullBlockOf(existing);
  if (args.includes('--full')) {
    const { fullOutcomes, renderFull } = await import('./efficacy-full.js');
    const outcomes = await fullOutcomes(cases, (done, total) => process.stderr.write(`\rfull run: ${done}/${total}`));
    process.stderr.write('\n');
    for (const line of summaryLines('full  ', outcomes)) console.log(line);
    full = renderFull(outcomes, digest);
  }
  // the anomaly detector's section is npm run efficacy:anomaly's: kept as it is
  const doc = keepAnomalySection(renderDoc(cases, digest, measured, full), existing);
  if (args.includes('--check')) {
    if (doc === existing) return 0;
    console.error(`${REPORT} is stale: run npm run efficacy`);
    return 1;
  }
  writeFileSync(REPORT, doc);
  console.log(`wrote ${REPORT}`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
