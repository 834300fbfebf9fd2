/** All stages in one call, for callers that hold no sandbox between them (selftest, tests): create → start → exec, removed whatever happens. */
import type { ContainerRuntime } from './container-runtime.js';
import type { SandboxResult, SandboxRun, SandboxSpec } from './sandbox-spec.js';

export async function runSandbox(runtime: ContainerRuntime, spec: SandboxSpec, run: SandboxRun): Promise<SandboxResult> {
  const prepared = await runtime.create(spec);
  try {
    const running = await prepared.start();
    return await running.exec(run);
  } finally {
    await prepared.remove();
  }
}
