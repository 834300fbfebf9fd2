/**
 * The engine vanishing under a running job, without restarting the machine's dockerd: the
 * Docker adapter talks to the engine through a Unix-socket proxy of the test's own, which the
 * test kills (the socket file gone: ENOENT) or turns into one that hangs up on every connection
 * (ECONNRESET / socket hang up) while the job runs. Either way the run ends as a retryable
 * infrastructure failure (SANDBOX_UNAVAILABLE), never INTERNAL; the removal that failed meanwhile
 * is retried by the next reap once the engine answers again, and nothing is left. Also: a
 * sandbox killed from outside (its PID 1 gone) is not the program's exit 137, while a program
 * that SIGKILLs itself still exits 137.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadProfiles } from '../src/profiles/index.js';
import { DockerRuntime, jobIds, loadImageCatalog, type SandboxRun, type SandboxSpec } from '../src/sandbox/index.js';
import { AppError, createLogger } from '../src/shared/index.js';
import { docker, TEST_LABEL } from './helpers/airlock.js';

const ENGINE = process.env['AIRLOCK_DOCKER_SOCKET'] ?? '/var/run/docker.sock';
const testId = `outage-${randomBytes(4).toString('hex')}`;
const logger = createLogger({ level: 'silent' });
const profile = loadProfiles(resolve(import.meta.dirname, '../profiles')).get('shell')!;
const images = loadImageCatalog(process.env['AIRLOCK_DATA_DIR'] ?? resolve(import.meta.dirname, '../.airlock'));
const limits = { ...profile.profile.limits, timeoutMs: 30_000 };

const spec = (): SandboxSpec => ({
  jobId: `job_${randomBytes(6).toString('hex')}`,
  imageId: images.get('shell')!,
  ...jobIds(),
  limits,
  seccompJson: profile.seccompJson,
  labels: { [TEST_LABEL]: testId },
});
const run = (argv: string[]): SandboxRun => ({ argv, files: [], stdin: new Uint8Array(), env: {}, limits });
const mine = () => docker.listContainers({ all: true, filters: { label: [`${TEST_LABEL}=${testId}`] } });

/** A proxy in front of the engine's socket: `down('gone')` closes it and removes the socket file, `down('hangup')` accepts and drops every connection. */
class EngineProxy {
  private server: Server | undefined;
  private readonly open = new Set<Socket>();
  private mode: 'up' | 'hangup' = 'up';
  constructor(readonly path: string) {}

  async up(): Promise<void> {
    this.mode = 'up';
    if (this.server !== undefined) return;
    // half-open both ways: the exec's stdin is ended while its output still flows
    const server = createServer({ allowHalfOpen: true }, (client) => {
      this.open.add(client);
      client.on('close', () => this.open.delete(client));
      client.on('error', () => undefined);
      if (this.mode === 'hangup') return void client.destroy();
      const engine = createConnection({ path: ENGINE, allowHalfOpen: true });
      this.open.add(engine);
      engine.on('close', () => this.open.delete(engine));
      engine.on('error', () => client.destroy());
      client.pipe(engine).pipe(client);
    });
    await new Promise<void>((r) => server.listen(this.path, r));
    this.server = server;
  }

  async down(how: 'gone' | 'hangup'): Promise<void> {
    for (const s of this.open) s.destroy();
    this.open.clear();
    if (how === 'hangup') {
      this.mode = 'hangup';
      return;
    }
    const server = this.server;
    this.server = undefined;
    if (server !== undefined) await new Promise<void>((r) => server.close(() => r()));
  }
}

let dir: string;
let proxy: EngineProxy;
let runtime: DockerRuntime;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-engine-'));
  proxy = new EngineProxy(join(dir, 'docker.sock'));
  await proxy.up();
  runtime = new DockerRuntime({ socketPath: proxy.path, workerId: `w-${testId}`, deployment: testId, logger });
  await runtime.ping();
});
// a test that failed with the engine away must not take the next ones with it
beforeEach(() => proxy.up());
afterAll(async () => {
  await proxy.down('gone');
  for (const c of await mine()) await docker.getContainer(c.Id).remove({ force: true });
  runtime.close();
  await rm(dir, { recursive: true, force: true });
});

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('the engine vanishes while a job runs', () => {
  it.each(['gone', 'hangup'] as const)(
    'socket %s: a retryable SANDBOX_UNAVAILABLE; the failed removal is retried by the next reap',
    async (how) => {
      const running = await (await runtime.create(spec())).start();
      const id = running.containerId;
      let settled = false;
      const ran = running.exec(run(['sh', '-c', 'sleep 20'])).then(
        () => undefined,
        (err: unknown) => err,
      );
      void ran.finally(() => (settled = true));
      // the command runs (its process is in the container), then the engine goes away under it
      await until(async () => JSON.stringify(await docker.getContainer(id).top()).includes('sleep 20'), 10_000);
      expect(settled).toBe(false);
      await proxy.down(how);
      const err = await ran;
      expect(err).toBeInstanceOf(AppError);
      expect(err).toMatchObject({ code: 'SANDBOX_UNAVAILABLE', retryable: true });
      // its removal failed while the engine was away: the container is still there
      expect((await mine()).map((c) => c.Id)).toContain(id);
      await proxy.up();
      // a reap that picks nothing still retries the removals that failed
      await runtime.reap(() => false);
      expect((await mine()).map((c) => c.Id)).not.toContain(id);
    },
    60_000,
  );
});

describe('a kill the program did not cause', () => {
  it('the sandbox killed from outside (its PID 1 gone) is SANDBOX_UNAVAILABLE, not exit 137', async () => {
    const running = await (await runtime.create(spec())).start();
    const ran = running.exec(run(['sh', '-c', 'sleep 20'])).then(
      (r) => r,
      (err: unknown) => err,
    );
    await until(async () => JSON.stringify(await docker.getContainer(running.containerId).top()).includes('sleep 20'), 10_000);
    // what the engine's shutdown does to a container whose PID 1 ignores SIGTERM
    await docker.getContainer(running.containerId).kill({ signal: 'SIGKILL' });
    expect(await ran).toMatchObject({ code: 'SANDBOX_UNAVAILABLE', retryable: true, message: /stopped from outside/ });
    expect((await mine()).map((c) => c.Id)).not.toContain(running.containerId);
  }, 60_000);

  it('a program that SIGKILLs itself exits 137: its own exit, a result', async () => {
    const running = await (await runtime.create(spec())).start();
    // the launcher execs the command: a shell of its own kills itself, its parent reports 137
    const result = await running.exec(run(['sh', '-c', 'sh -c "kill -9 \\$\\$"']));
    expect(result).toMatchObject({ outcome: 'exited', exitCode: 137 });
  }, 60_000);
});
