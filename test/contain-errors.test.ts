/**
 * The process-level handler (issue 10, breach 3), in a real child process: errors that escape
 * a per-job component (a throw in a timer, a rejected promise, a throwing request handler, as
 * an upstream answering `HTTP/1.1 099` made the gateway's writeHead do) are logged with their
 * component and job and the process keeps running; an error outside any such scope is still
 * a crash: logged as fatal, exit code 1.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');

const CHILD = `
import { createServer, request } from 'node:http';
import { containProcessErrors, createLogger, runInJobScope } from './src/shared/index.ts';
containProcessErrors({ logger: createLogger({ level: 'info', destination: { write: (l) => process.stdout.write(l) } }) });
runInJobScope({ component: 'tool-gateway', jobId: 'job_contained01' }, () => {
  setTimeout(() => { throw new Error('thrown in a timer'); }, 5);
  (async () => { await new Promise((r) => setTimeout(r, 10)); throw new Error('rejected later'); })();
  const server = createServer((_req, res) => res.writeHead(99));
  server.listen(0, '127.0.0.1', () => {
    const port = server.address().port;
    setTimeout(() => request({ port, host: '127.0.0.1' }).on('error', () => {}).end(), 20);
  });
  setTimeout(() => server.close(), 200);
});
setTimeout(() => {
  process.stdout.write('STILL-ALIVE\\n');
  setTimeout(() => { throw new Error('unknown crash'); }, 0);
  setTimeout(() => process.stdout.write('AFTER-CRASH\\n'), 500);
}, 300);
`;

function runChild(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

describe('process-level error containment', () => {
  it('contains errors of a per-job component, and still crashes on an unknown one', async () => {
    const { code, stdout, stderr } = await runChild();
    const lines = stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string; kind: string; component?: string; jobId?: string; err: { message: string } });
    const contained = lines.filter((l) => l.jobId === 'job_contained01');
    expect(contained.map((l) => [l.kind, l.err.message]).sort(), stderr).toEqual(
      [
        ['uncaughtException', 'thrown in a timer'],
        ['unhandledRejection', 'rejected later'],
        ['uncaughtException', expect.stringContaining('Invalid status code: 99')],
      ].sort(),
    );
    for (const l of contained) expect(l).toMatchObject({ level: 50, component: 'tool-gateway' });
    expect(stdout).toContain('STILL-ALIVE');
    // the unknown crash is visible and ends the process
    expect(lines.filter((l) => l.level === 60).map((l) => [l.kind, l.err.message, l.jobId])).toEqual([['uncaughtException', 'unknown crash', undefined]]);
    expect(stdout).not.toContain('AFTER-CRASH');
    expect(code).toBe(1);
  });
});
