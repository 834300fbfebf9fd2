/**
 * The full measurement (`npm run efficacy -- --full`): every corpus job submitted to a real
 * Airlock (API, queue, worker; the real Redis and Docker engine, as the tests run it) and its
 * findings read back from GET /v1/jobs/:id, so what is measured is exactly what the pipeline
 * reports: what ran, what it printed and collected, and what the kernel recorded. A benchmark,
 * not a CI test (about a second per job).
 */
import { execFileSync } from 'node:child_process';
import { release } from 'node:os';
import type { Finding } from '../src/monitor/index.js';
import { runJob, startTestAirlock } from '../test/helpers/airlock.js';
import type { CorpusCase } from '../test/corpus/corpus.js';
import { outcomeOf, type CaseOutcome } from './efficacy-measure.js';
import { FULL_BEGIN, FULL_END, renderPart } from './efficacy-report.js';

const CONCURRENCY = 2;
const WAIT_S = 90;

export async function fullOutcomes(cases: readonly CorpusCase[], progress: (done: number, total: number) => void): Promise<CaseOutcome[]> {
  const t = await startTestAirlock('efficacy');
  try {
    const { key } = await t.key('agent');
    const out = new Array<CaseOutcome>(cases.length);
    let next = 0;
    let done = 0;
    const worker = async () => {
      while (next < cases.length) {
        const i = next++;
        const c = cases[i]!;
        out[i] = await measure(c, (body) => runJob(t, key, body, WAIT_S) as Promise<JobView>);
        progress(++done, cases.length);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    return out;
  } finally {
    await t.stop();
  }
}

interface JobView {
  readonly status: string;
  readonly error?: { readonly code?: string };
  readonly findings?: Finding[];
}

async function measure(c: CorpusCase, run: (body: Record<string, unknown>) => Promise<JobView>): Promise<CaseOutcome> {
  const body = {
    runtime: c.runtime,
    files: c.files,
    command: c.argv,
    env: c.env,
    ...(c.patch !== undefined ? { patch: c.patch } : {}),
    ...(c.outputs.length > 0 ? { outputs: c.outputs } : {}),
  };
  try {
    const job = await run(body);
    if (job.status === 'error') return outcomeOf(c, [], `job error: ${job.error?.code ?? '?'}`);
    return outcomeOf(c, job.findings ?? []);
  } catch (err) {
    return outcomeOf(c, [], (err as Error).message.slice(0, 200));
  }
}

function engineLine(): string {
  let docker = 'unknown';
  try {
    docker = execFileSync('docker', ['version', '--format', '{{.Server.Version}}'], { encoding: 'utf8' }).trim();
  } catch {
    /* reported as unknown */
  }
  return `Docker ${docker}, kernel ${release()}`;
}

export const FULL_INTRO = (digest: string) =>
  `Every job run in the sandbox through a real Airlock (API, queue, worker), its findings read back from \`GET /v1/jobs/:id\`: what ran, plus what it printed and collected and what the kernel recorded of it. Measured on corpus \`${digest.slice(0, 16)}\`, ${engineLine()}.`;

export function renderFull(outcomes: readonly CaseOutcome[], digest: string): string {
  return `${FULL_BEGIN}\n${renderPart('Full: run in the sandbox', FULL_INTRO(digest), outcomes)}\n${FULL_END}`;
}
