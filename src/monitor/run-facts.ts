/**
 * The facts of one finished run the monitor judges. The first group is what every caller has
 * always passed; the rest feed the detectors and are optional, so a caller that cannot supply
 * one (no input kept, no behaviour recorded) still gets every finding the others allow.
 */
import type { SandboxBehaviour, SandboxResult } from '../sandbox/index.js';

export interface RunFacts {
  readonly outcome: SandboxResult['outcome'];
  readonly violation?: SandboxResult['violation'];
  readonly stdoutTruncated: boolean;
  readonly stderrTruncated: boolean;
  readonly artifactPaths: readonly string[];
  readonly artifactsRejected: number;
  /** The job's patch, if it had one. */
  readonly patch?: string;
  /** The launcher's message when the patch was not applied. */
  readonly patchMessage?: string;
  /** What ran: argv, the input tree and the environment (static detectors read it). */
  readonly input?: RunInput;
  readonly stdout?: Uint8Array;
  readonly stderr?: Uint8Array;
  /** The collected files with their bytes (`artifactPaths` names the same files). */
  readonly artifacts?: readonly { readonly path: string; readonly content: Uint8Array }[];
  /** What the kernel recorded of the job's processes besides tripwire kills. */
  readonly behaviour?: RunBehaviour;
  /** Values the job must never hand out, named (e.g. its tool credentials). */
  readonly secrets?: readonly { readonly name: string; readonly value: string }[];
}

export interface RunInput {
  readonly argv: readonly string[];
  readonly files: readonly { readonly path: string; readonly content: Uint8Array | string }[];
  readonly env: Readonly<Record<string, string>>;
}

/** What the kernel recorded of the job's processes besides tripwire kills (the sandbox's behaviour watch). */
export type RunBehaviour = SandboxBehaviour;
