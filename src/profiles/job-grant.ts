/**
 * Who may be granted what for one job: roles that run jobs, the key's profile allow-list, the
 * tools (profile ∩ key ∩ request, configured ones only) and how long a granted job's
 * credential lives. The one rule that request parsing enforces (POST /v1/jobs) and the
 * capability matrix reports (GET /v1/capabilities, `airlock capabilities`): the document an
 * auditor trusts is computed by the function that decides.
 */
import type { Profile } from './profile-schema.js';

/** Roles whose keys run jobs (and read their own). */
export const JOB_ROLES = ['agent', 'admin'] as const;

export interface GrantKey {
  readonly id: string;
  readonly role: string;
  /** Profiles the key may run jobs on; absent: all. */
  readonly profiles?: readonly string[] | undefined;
  /** Tools the key may be granted (on profiles that offer them). */
  readonly tools: readonly string[];
}

export type GrantProfile = Pick<Profile, 'name' | 'tools'>;

/** Why one tool was refused: for the operators' record only (the caller hears one answer whatever the reason). */
export interface ToolRefusal {
  readonly tool: string;
  readonly reason: string;
}

export type JobGrant =
  | { readonly granted: true; readonly tools: readonly string[] }
  | { readonly granted: false; readonly refused: 'role' | 'profile' }
  | { readonly granted: false; readonly refused: 'tools'; readonly tools: readonly ToolRefusal[] };

/** Whether a key of this role runs jobs at all. */
export function runsJobs(role: string): boolean {
  return (JOB_ROLES as readonly string[]).includes(role);
}

/** The profile's tools that exist (in the tools file): what some key could be granted there. */
export function grantableTools(profile: GrantProfile, knownTools: ReadonlySet<string>): string[] {
  return profile.tools.filter((t) => knownTools.has(t));
}

/** What `key` is granted for a job on `profile` asking for `requested` tools (sorted, each once), or why not. */
export function jobGrant(key: GrantKey, profile: GrantProfile, requested: readonly string[], knownTools: ReadonlySet<string>): JobGrant {
  if (!runsJobs(key.role)) return { granted: false, refused: 'role' };
  if (key.profiles !== undefined && !key.profiles.includes(profile.name)) return { granted: false, refused: 'profile' };
  const grantable = grantableTools(profile, knownTools);
  const wanted = [...new Set(requested)];
  const refused: ToolRefusal[] = [];
  for (const tool of wanted) {
    if (!knownTools.has(tool)) refused.push({ tool, reason: 'no such tool is configured' });
    else if (!grantable.includes(tool)) refused.push({ tool, reason: `not grantable on profile ${profile.name}` });
    else if (!key.tools.includes(tool)) refused.push({ tool, reason: `not granted to key ${key.id}` });
  }
  if (refused.length > 0) return { granted: false, refused: 'tools', tools: refused };
  return { granted: true, tools: wanted.sort() };
}

/** The credential's terms: the start slack (a container starts before the command's clock) and the issuer's grace after the deadline. */
export interface CredentialTerms {
  readonly startSlackMs: number;
  readonly graceMs: number;
}

/** When a granted job's credential stops being valid (before the issuer's grace): its start, plus its timeout and the start slack. */
export function credentialDeadlineMs(startMs: number, timeoutMs: number, terms: Pick<CredentialTerms, 'startSlackMs'>): number {
  return startMs + timeoutMs + terms.startSlackMs;
}

/** The longest a credential of a job with this timeout lives: to its deadline, then the grace. */
export function credentialLifetimeMs(timeoutMs: number, terms: CredentialTerms): number {
  return credentialDeadlineMs(0, timeoutMs, terms) + terms.graceMs;
}
