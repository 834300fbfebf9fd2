/**
 * The capability matrix and enforcement agree (issue 11): over a generated table of every
 * role × key profile allow-list × key tools × profile × requested tools, the matrix says a key
 * may run a job there with those tools exactly when POST /v1/jobs's parsing accepts it. Both
 * are the real functions; neither is told the other's answer.
 */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseJobRequest, type GrantContext } from '../src/api/job-request-schema.js';
import { capabilityMatrix, credentialDeadlineMs, credentialLifetimeMs, loadProfiles, type LoadedProfile, type MatrixKey, type MatrixTool } from '../src/profiles/index.js';
import { ROLES } from '../src/credentials/index.js';
import { isAppError } from '../src/shared/index.js';

const real = loadProfiles(resolve(import.meta.dirname, '../profiles'));
/** The shipped profiles, each offering its own tools: one a tool nobody configured. */
const offered: Record<string, string[]> = { python: ['alpha', 'beta'], node: ['beta', 'ghost'], shell: [] };
const profiles = new Map<string, LoadedProfile>([...real.values()].map((p) => [p.profile.name, { ...p, profile: { ...p.profile, tools: offered[p.profile.name] ?? [] } }]));
/** Configured tools (the tools file): gamma is on no profile, ghost is on a profile but not configured. */
const tools: MatrixTool[] = ['alpha', 'beta', 'gamma'].map((name) => ({ name, origin: `https://${name}.example`, methods: ['GET'], pathPrefixes: ['/'] }));
const knownTools = new Set(tools.map((t) => t.name));

const KEY_PROFILES: (string[] | undefined)[] = [undefined, [], ['python'], ['python', 'node'], ['shell', 'nosuch']];
const KEY_TOOLS = [[], ['alpha'], ['beta', 'ghost'], ['alpha', 'beta', 'gamma', 'ghost', 'nope']];
const REQUESTS = [[], ['alpha'], ['beta'], ['gamma'], ['ghost'], ['nope'], ['alpha', 'beta'], ['beta', 'ghost'], ['alpha', 'alpha']];

const credential = { issuer: 'airlock-test', audience: ['staging'], graceMs: 30_000 };

function matrixOf(key: MatrixKey) {
  return capabilityMatrix({ profiles, tools, keys: [key], imageDigests: new Map(), credential, startSlackMs: 10_000 });
}

/** The real parse of a minimal submission: accepted, or the error code and message it answers with. */
function enforce(key: GrantContext['key'], profile: string, requested: string[]) {
  const refused: { tool: string; reason: string }[][] = [];
  try {
    const input = parseJobRequest({ profile, files: [{ path: 'main.py', content: 'print(1)\n' }], ...(requested.length > 0 ? { tools: requested } : {}) }, profiles, {
      key,
      knownTools,
      onToolsRefused: (r) => refused.push([...r]),
    });
    return { accepted: true as const, tools: input.tools ?? [] };
  } catch (err) {
    if (!isAppError(err)) throw err;
    return { accepted: false as const, code: err.code, message: err.message, refused };
  }
}

describe('the capability matrix is what enforcement grants', () => {
  const cases = ROLES.flatMap((role) =>
    KEY_PROFILES.flatMap((keyProfiles, i) =>
      KEY_TOOLS.map((keyTools, j) => ({
        id: `key_${role}_${i}_${j}`,
        role,
        owner: 'o',
        name: 'n',
        tools: keyTools,
        ...(keyProfiles !== undefined ? { profiles: keyProfiles } : {}),
      })),
    ),
  );

  it(`agrees on every role × allow-list × key tools × profile × request (${cases.length * profiles.size * REQUESTS.length} cases)`, () => {
    const disagreements: string[] = [];
    let accepted = 0;
    for (const key of cases) {
      const reach = matrixOf(key).keys[0]!.reach;
      for (const profile of profiles.keys()) {
        const there = reach.find((r) => r.profile === profile);
        for (const requested of REQUESTS) {
          const may = there !== undefined && requested.every((t) => there.tools.includes(t));
          const got = enforce(key, profile, requested);
          if (got.accepted) accepted++;
          if (got.accepted !== may)
            disagreements.push(
              `${key.id} ${JSON.stringify(key.profiles)} ${JSON.stringify(key.tools)} on ${profile} asking ${JSON.stringify(requested)}: matrix ${may}, enforcement ${got.accepted}`,
            );
          // what is granted is what was asked, each once
          if (got.accepted) expect(got.tools).toEqual([...new Set(requested)].sort());
        }
      }
    }
    expect(disagreements).toEqual([]);
    // the table exercises both answers
    expect(accepted).toBeGreaterThan(50);
  });

  it('refuses with one answer per refused tool, whatever the reason; the reason goes only to the record', () => {
    const key = { id: 'key_a', role: 'agent' as const, tools: ['alpha', 'ghost'] };
    const answers = ['gamma', 'ghost', 'nope', 'beta'].map((t) => ({ t, got: enforce(key, 'python', [t]) }));
    for (const { t, got } of answers) {
      expect(got).toMatchObject({ accepted: false, code: 'TOOL_NOT_GRANTED', message: `tools refused: ${t} (not granted to key key_a on profile python)` });
    }
    expect(answers.map(({ got }) => (got.accepted ? [] : got.refused.flat().map((r) => r.reason)))).toEqual([
      ['not grantable on profile python'],
      ['no such tool is configured'],
      ['no such tool is configured'],
      ['not granted to key key_a'],
    ]);
  });

  it('a role that runs no jobs and a profile outside the allow-list are refused before any tool is looked at', () => {
    expect(enforce({ id: 'key_r', role: 'reviewer' as const, tools: [] }, 'python', [])).toMatchObject({ accepted: false, code: 'FORBIDDEN' });
    expect(enforce({ id: 'key_p', role: 'agent' as const, profiles: ['node'], tools: [] }, 'python', ['nope'])).toMatchObject({
      accepted: false,
      code: 'PROFILE_NOT_ALLOWED',
      message: 'key key_p may not run jobs on profile python (allowed: node)',
      refused: [],
    });
    expect(matrixOf({ id: 'key_r', role: 'reviewer', owner: 'o', name: 'n', tools: ['alpha'] }).keys[0]!.reach).toEqual([]);
  });

  it("states a granted job's credential lifetime as the worker sets its deadline and the issuer its grace", () => {
    const m = matrixOf({ id: 'key_a', role: 'agent', owner: 'o', name: 'n', tools: [] });
    const python = m.profiles.find((p) => p.name === 'python')!;
    const timeoutMs = profiles.get('python')!.profile.limits.timeoutMs;
    const terms = { startSlackMs: 10_000, graceMs: credential.graceMs };
    expect(python.credentialLifetimeMs).toBe(credentialLifetimeMs(timeoutMs, terms));
    // started at 1000: valid until its deadline, then the grace
    expect(credentialDeadlineMs(1000, timeoutMs, terms) + terms.graceMs - 1000).toBe(python.credentialLifetimeMs);
    expect(python.credentialLifetimeMs).toBe(timeoutMs + 10_000 + 30_000);
    expect(m.profiles.find((p) => p.name === 'shell')!.credentialLifetimeMs).toBeNull();
    expect(m.profiles.find((p) => p.name === 'node')!.grantableTools.map((t) => t.name)).toEqual(['beta']);
  });
});
