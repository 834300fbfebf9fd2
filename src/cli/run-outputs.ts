/**
 * What `airlock run` leaves for a pipeline besides its exit code: a JUnit XML (`--junit`), a JSON
 * evidence report (`--report`), and the collected artifacts on disk (`--artifacts`), each from the
 * finished job as the API shows it.
 */
import { createHash } from 'node:crypto';
import { lstat, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { AppError } from '../root/index.js';
import type { Airlock, ArtifactRef, JobView, PromotionView } from '../client/index.js';

/** Characters of output a JUnit failure carries (its tail). */
const JUNIT_TAIL_CHARS = 8000;

export function outputText(job: JobView, stream: 'stdout' | 'stderr'): string {
  const text = job[stream] ?? '';
  return job[`${stream}Encoding`] === 'base64' ? Buffer.from(text, 'base64').toString('utf8') : text;
}

/** One testcase: passed, failed (the program's exit code, the output's tail) or error (the job's status). */
export function junitOf(job: JobView, name: string): string {
  const seconds = ((job.durationMs ?? 0) / 1000).toFixed(3);
  const failed = job.status === 'failed' ? 1 : 0;
  const errored = job.status !== 'succeeded' && job.status !== 'failed' ? 1 : 0;
  const tail = (outputText(job, 'stdout') + outputText(job, 'stderr')).slice(-JUNIT_TAIL_CHARS);
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="airlock" tests="1" failures="${failed}" errors="${errored}" time="${seconds}">`,
    `  <testsuite name="airlock run" tests="1" failures="${failed}" errors="${errored}" skipped="0" time="${seconds}">`,
    `    <properties><property name="jobId" value="${xml(job.id)}"/><property name="status" value="${xml(job.status)}"/><property name="codeDigest" value="${xml(job.codeDigest ?? '')}"/></properties>`,
    `    <testcase classname="airlock.${xml(job.profile)}" name="${xml(name)}" time="${seconds}">`,
  ];
  if (failed) lines.push(`      <failure type="failed" message="exit code ${job.exitCode ?? 'none'}">${xml(tail)}</failure>`);
  if (errored) {
    const why = job.status === 'patch_failed' ? (job.patchMessage ?? '') : (job.error?.message ?? tail);
    lines.push(`      <error type="${xml(job.status)}" message="${xml(`the job ended ${job.status}`)}">${xml(why)}</error>`);
  }
  lines.push(`      <system-out>${xml(outputText(job, 'stdout').slice(-JUNIT_TAIL_CHARS))}</system-out>`);
  lines.push(`      <system-err>${xml(outputText(job, 'stderr').slice(-JUNIT_TAIL_CHARS))}</system-err>`);
  lines.push('    </testcase>', '  </testsuite>', '</testsuites>', '');
  return lines.join('\n');
}

/** Text for XML: the five entities escaped, characters XML 1.0 forbids made visible. */
function xml(s: string): string {
  return (
    s
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;')
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
  );
}

/** The command's own JUnit file among the collected artifacts: the first `.xml` (by path); junitXmlProblem then decides whether it is used. */
export function ownJunitOf(artifacts: readonly ArtifactRef[]): ArtifactRef | undefined {
  return artifacts.find((a) => a.path.toLowerCase().endsWith('.xml'));
}

/** A well-formedness check (tags balanced, one root, attributes quoted): enough to refuse what a CI's JUnit reader would choke on. */
export function junitXmlProblem(text: string): string | undefined {
  const body = text
    .replace(/^\uFEFF/, '')
    .replace(/<\?[\s\S]*?\?>/g, '')
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<!\[CDATA\[[\s\S]*?\]\]>/g, '')
    .replace(/<!DOCTYPE[^>]*>/gi, '');
  const stack: string[] = [];
  let roots = 0;
  let root = '';
  const tag = /<(\/?)([A-Za-z_][\w.:-]*)((?:\s+[\w.:-]+\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>/g;
  let last = 0;
  for (let m = tag.exec(body); m !== null; m = tag.exec(body)) {
    if (/[<>]/.test(body.slice(last, m.index))) return `malformed markup near character ${last}`;
    last = m.index + m[0].length;
    const [, close, name = '', , selfClose] = m;
    if (close === '/') {
      if (stack.pop() !== name) return `</${name}> does not close the open element`;
    } else {
      if (stack.length === 0) {
        roots++;
        root = name;
      }
      if (selfClose !== '/') stack.push(name);
    }
  }
  if (/[<>]/.test(body.slice(last))) return 'malformed markup at the end';
  if (stack.length > 0) return `<${stack.at(-1) ?? ''}> is never closed`;
  if (roots !== 1) return roots === 0 ? 'no root element' : 'more than one root element';
  if (root !== 'testsuites' && root !== 'testsuite') return `the root element is <${root}>, not <testsuites> or <testsuite>`;
  return undefined;
}

/** The evidence a pipeline archives: what ran, where, how it ended, with every digest. */
export function reportOf(job: JobView, extra: { command: readonly string[]; url: string; promotion?: PromotionView | undefined; junit?: string | undefined }) {
  const ms = (a: string | null, b: string | null) => (a !== null && b !== null ? Date.parse(b) - Date.parse(a) : null);
  return {
    jobId: job.id,
    url: `${extra.url}/v1/jobs/${job.id}`,
    status: job.status,
    exitCode: job.exitCode ?? null,
    profile: job.profile,
    isolation: job.isolation ?? null,
    command: extra.command,
    createdAt: job.createdAt,
    startedAt: job.startedAt,
    finishedAt: job.finishedAt,
    durations: { queuedMs: ms(job.createdAt, job.startedAt), runMs: job.durationMs ?? null, totalMs: ms(job.createdAt, job.finishedAt) },
    attempts: job.attempts,
    digests: {
      code: job.codeDigest ?? null,
      image: job.imageDigest ?? null,
      profile: job.profileDigest ?? null,
      seccomp: job.seccompDigest ?? null,
      artifacts: job.artifactDigest ?? null,
    },
    output: { stdoutBytes: job.stdoutBytes ?? 0, stderrBytes: job.stderrBytes ?? 0, stdoutTruncated: job.stdoutTruncated ?? false, stderrTruncated: job.stderrTruncated ?? false },
    artifacts: job.artifacts ?? [],
    artifactsRejected: job.artifactsRejected ?? [],
    findings: job.findings ?? [],
    ...(job.patchMessage !== undefined ? { patchMessage: job.patchMessage } : {}),
    ...(job.error !== undefined ? { error: job.error } : {}),
    ...(extra.junit !== undefined ? { junit: extra.junit } : {}),
    ...(extra.promotion !== undefined ? { promotion: { id: extra.promotion.id, state: extra.promotion.state, target: extra.promotion.target, url: extra.promotion.url } } : {}),
  };
}

/** Downloads each collected file under `dir`: its name checked, its bytes re-hashed against the listed digest, never through a link. */
export async function downloadArtifacts(api: Airlock, job: JobView, dir: string): Promise<string[]> {
  const root = resolve(dir);
  await mkdir(root, { recursive: true });
  const written: string[] = [];
  for (const a of job.artifacts ?? []) {
    const segments = a.path.split('/');
    if (a.path.startsWith('/') || a.path.includes('\\') || segments.some((s) => s === '' || s === '.' || s === '..' || s.includes('\0')))
      throw new AppError('INVALID_PATH', `artifact ${JSON.stringify(a.path)} has an unsafe name; not written`);
    const target = join(root, ...segments);
    if (!target.startsWith(root + sep)) throw new AppError('INVALID_PATH', `artifact ${JSON.stringify(a.path)} leaves ${dir}; not written`);
    // no component under the folder may be a link (a file left there before could redirect the write)
    for (let p = dirname(target); p.startsWith(root + sep); p = dirname(p)) {
      if ((await lstat(p).catch(() => undefined))?.isSymbolicLink() === true) throw new AppError('INVALID_PATH', `${p} is a symlink; artifact ${a.path} not written`);
    }
    if ((await lstat(target).catch(() => undefined))?.isSymbolicLink() === true) throw new AppError('INVALID_PATH', `${target} is a symlink; not overwritten`);
    const { bytes } = await api.getArtifact(job.id, a.path);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (sha256 !== a.sha256) throw new AppError('ARTIFACT_CORRUPT', `artifact ${a.path}: sha256 ${sha256} is not the listed ${a.sha256}; not written`);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, bytes);
    written.push(a.path);
  }
  return written;
}
