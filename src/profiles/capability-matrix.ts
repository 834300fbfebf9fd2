/**
 * The capability matrix: what each profile and each key can reach, and with what. Pure:
 * callers hand in profiles, tools, keys and image digests. This is the document an auditor
 * asks for ("what can an agent reach?"); what it says a key may do is what `jobGrant`, the
 * function POST /v1/jobs enforces, grants.
 */
import { credentialLifetimeMs, grantableTools, jobGrant } from './job-grant.js';
import type { IsolationTier, LoadedProfile } from './profile-schema.js';

export interface MatrixTool {
  readonly name: string;
  readonly origin: string;
  readonly methods: readonly string[];
  readonly pathPrefixes: readonly string[];
}

export interface MatrixKey {
  readonly id: string;
  readonly role: string;
  readonly owner: string;
  readonly name: string;
  readonly profiles?: readonly string[];
  readonly tools: readonly string[];
  readonly revokedAt?: string;
}

export interface CapabilityMatrix {
  readonly credential: { readonly issuer: string; readonly audience: readonly string[]; readonly graceMs: number };
  readonly profiles: readonly {
    readonly name: string;
    readonly imageDigest: string | null;
    readonly network: string;
    /** `container` (runc, the host's kernel behind the seccomp policy) or `gvisor` (runsc, gVisor's user-space kernel). */
    readonly isolation: IsolationTier;
    readonly seccompDigest: string;
    readonly profileDigest: string;
    readonly limits: LoadedProfile['profile']['limits'];
    readonly grantableTools: readonly MatrixTool[];
    /** A granted job's credential lives at most this long (timeout + grace + start slack). */
    readonly credentialLifetimeMs: number | null;
  }[];
  readonly keys: readonly {
    readonly id: string;
    readonly role: string;
    readonly owner: string;
    readonly name: string;
    readonly active: boolean;
    /** Per allowed profile: the tools a job of this key may be granted there. */
    readonly reach: readonly { readonly profile: string; readonly tools: readonly string[] }[];
  }[];
}

export function capabilityMatrix(input: {
  profiles: ReadonlyMap<string, LoadedProfile>;
  tools: readonly MatrixTool[];
  keys: readonly MatrixKey[];
  imageDigests: ReadonlyMap<string, string>;
  credential: CapabilityMatrix['credential'];
  startSlackMs: number;
}): CapabilityMatrix {
  const toolByName = new Map(input.tools.map((t) => [t.name, t]));
  const known = new Set(toolByName.keys());
  const terms = { startSlackMs: input.startSlackMs, graceMs: input.credential.graceMs };
  const profiles = [...input.profiles.values()].map(({ profile, digest, seccompDigest }) => {
    const grantable = grantableTools(profile, known).map((n) => toolByName.get(n)!);
    return {
      name: profile.name,
      imageDigest: input.imageDigests.get(profile.image) ?? null,
      network: profile.network,
      isolation: profile.isolation,
      seccompDigest,
      profileDigest: digest,
      limits: profile.limits,
      grantableTools: grantable.map((t) => ({ name: t.name, origin: t.origin, methods: [...t.methods], pathPrefixes: [...t.pathPrefixes] })),
      credentialLifetimeMs: grantable.length > 0 ? credentialLifetimeMs(profile.limits.timeoutMs, terms) : null,
    };
  });
  // a key's reach is what jobGrant, the function request parsing enforces, grants it: profile by profile, tool by tool
  const keys = input.keys.map((k) => ({
    id: k.id,
    role: k.role,
    owner: k.owner,
    name: k.name,
    active: k.revokedAt === undefined,
    reach: [...input.profiles.values()]
      .filter(({ profile }) => jobGrant(k, profile, [], known).granted)
      .map(({ profile }) => ({ profile: profile.name, tools: grantableTools(profile, known).filter((t) => jobGrant(k, profile, [t], known).granted) })),
  }));
  return { credential: input.credential, profiles, keys };
}

/** The matrix as terminal tables. */
export function formatCapabilityMatrix(m: CapabilityMatrix): string {
  const lines: string[] = ['PROFILES'];
  for (const p of m.profiles) {
    const l = p.limits;
    lines.push(
      `  ${p.name}  image ${p.imageDigest ?? '(not built)'}  isolation ${p.isolation}  network ${p.network}  seccomp sha256:${p.seccompDigest.slice(0, 16)}…`,
      `    limits: timeout ${l.timeoutMs} ms, memory ${mib(l.memoryBytes)}, cpus ${l.cpus}, pids ${l.pids}, stdout/stderr ${mib(l.stdoutBytes)}/${mib(l.stderrBytes)}, scratch ${mib(l.scratchBytes)}, file ${mib(l.fileSizeBytes)}, open files ${l.openFiles}`,
    );
    if (p.grantableTools.length === 0) lines.push('    tools: none (no credential, no gateway socket)');
    for (const t of p.grantableTools) lines.push(`    tool ${t.name}: ${t.methods.join(',')} ${t.origin}{${t.pathPrefixes.join(', ')}}`);
    if (p.credentialLifetimeMs !== null) lines.push(`    credential: lives at most ${p.credentialLifetimeMs} ms, revoked when the job ends`);
  }
  lines.push('', `KEYS (credential issuer ${m.credential.issuer}, audience ${m.credential.audience.join(',')})`);
  for (const k of m.keys) {
    const reach = k.reach.length === 0 ? 'runs no jobs' : k.reach.map((r) => `${r.profile}${r.tools.length > 0 ? ` [${r.tools.join(', ')}]` : ''}`).join('; ');
    lines.push(`  ${k.id}  ${k.role.padEnd(8)} ${k.active ? 'active ' : 'revoked'}  owner ${k.owner}  ${reach}`);
  }
  return lines.join('\n');
}

function mib(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MiB` : `${bytes} B`;
}
