/**
 * The shapes the console reads from the API (the fields it shows; the API sends more). The console
 * imports nothing of the server's, so test/client-types.test.ts assigns each server view to its
 * type here: a field renamed or retyped on the server fails tsc.
 */

export interface Finding {
  readonly kind: string;
  readonly severity: string;
  readonly message: string;
  readonly detector?: string;
  readonly class?: string;
}

export interface Decision {
  readonly keyId: string;
  readonly principal: string;
  readonly decision: 'approve' | 'reject';
  readonly reason: string;
  readonly artifactDigest: string;
  readonly groups: readonly string[];
  readonly at: string;
}

export interface HistoryEntry {
  readonly n: number;
  readonly at: string;
  readonly from: string | null;
  readonly to: string;
  readonly actor: { readonly system: string } | { readonly keyId: string; readonly principal: string };
  readonly reason: string;
}

export interface Snapshot {
  readonly status: string;
  readonly profile: string;
  readonly argv: readonly string[];
  readonly exitCode: number | null;
  readonly durationMs: number;
  readonly files: readonly { readonly path: string; readonly bytes: number }[];
  readonly patchSha256: string | null;
  readonly artifactsTarSha256: string | null;
  readonly stdoutExcerpt: string;
  readonly stdoutEncoding: 'utf8' | 'base64';
  readonly stdoutBytes?: number;
  readonly stdoutTruncated?: boolean;
  readonly stderrExcerpt: string;
  readonly stderrEncoding: 'utf8' | 'base64';
  readonly stderrBytes?: number;
  readonly stderrTruncated?: boolean;
  readonly artifacts: readonly { readonly path: string; readonly bytes: number; readonly sha256: string }[];
  readonly imageDigest: string;
  readonly seccompDigest: string;
}

export interface Promotion {
  readonly id: string;
  readonly state: string;
  readonly jobId: string;
  readonly target: string;
  readonly targetType: string;
  readonly artifactDigest: string;
  readonly artifactKind: 'patch' | 'artifacts';
  readonly codeDigest: string;
  readonly profileDigest: string;
  readonly policy: { readonly version: number | string; readonly digest: string };
  readonly risk: string;
  readonly findings: readonly Finding[];
  readonly requester: { readonly keyId: string; readonly principal: string };
  readonly submitter: { readonly keyId: string; readonly principal: string };
  readonly note: string;
  readonly lineage: string;
  readonly requirement: { readonly approvals: number; readonly groups: readonly string[]; readonly requireGroup: string | null; readonly basis: string };
  readonly decisions: readonly Decision[];
  readonly history: readonly HistoryEntry[];
  readonly createdAt: string;
  readonly deadlineAt: string;
  readonly escalateAt: string | null;
  readonly escalatedAt: string | null;
  readonly escalationGroup: string | null;
  readonly outcome: { readonly location: string } | null;
  readonly failure: string | null;
  readonly snapshot: Snapshot;
}

export interface PromotionSummary {
  readonly id: string;
  readonly state: string;
  readonly jobId: string;
  readonly target: string;
  readonly risk: string;
  readonly requester: { readonly keyId: string; readonly principal: string };
  readonly approvals: number;
  readonly approvalsNeeded: number;
  readonly createdAt: string;
  readonly deadlineAt: string;
}

export interface AuditRecordView {
  readonly seq: number;
  readonly time: string;
  readonly action: string;
  readonly target: string | null;
  readonly actor: { readonly type: string; readonly keyId?: string; readonly role?: string; readonly workerId?: string; readonly via?: string };
  readonly request?: { readonly method?: string; readonly route?: string };
  readonly outcome?: { readonly status?: number; readonly result?: string; readonly error?: string };
  readonly details?: Readonly<Record<string, unknown>>;
}

export interface Eligibility {
  readonly mayDecide: boolean;
  readonly code?: string;
  readonly reason?: string;
}

/** GET /v1/whoami: the key the console signed in with. */
export interface Whoami {
  readonly id: string;
  readonly role: 'agent' | 'reviewer' | 'admin' | 'service';
  readonly name: string;
  readonly owner: string;
  readonly groups: readonly string[];
}

export interface PoolState {
  readonly target: number;
  readonly ready: number;
  readonly creating: number;
  readonly hits: number;
  readonly waited: number;
  readonly misses: number;
}

/** GET /v1/operations (the operations view). */
export interface Operations {
  readonly window: { readonly since: string; readonly until: string; readonly records: number; readonly truncated: boolean };
  readonly queue: Readonly<Record<string, number>>;
  readonly workers: readonly { workerId: string; startedAt: string; at: string; engineOk: boolean; isolation: readonly string[]; pool: Readonly<Record<string, PoolState>> }[];
  readonly jobs: {
    readonly bucketMs: number;
    readonly buckets: readonly { at: string; submitted: number; finished: Readonly<Record<string, number>> }[];
    readonly totals: Readonly<Record<string, number>>;
  };
  readonly queueWaitMs: { readonly count: number; readonly p50: number | null; readonly p95: number | null; readonly max: number | null };
  readonly toolCalls: readonly { tool: string; outcome: string; keyId: string | null; count: number }[];
  readonly refused: {
    readonly byStatus: Readonly<Record<string, number>>;
    readonly recent: readonly { seq: number; time: string; action: string; status: number; error: string | null; keyId: string | null; route: string | null }[];
  };
  readonly anomalies: { readonly available: boolean; readonly records: readonly AuditRecordView[] };
  readonly audit: {
    readonly head: { seq: number; time: string };
    readonly base: { seq: number };
    readonly lastCheckpoint: { seq: number; time: string } | null;
    readonly lastVerify: { at: string; result: { ok: boolean; reason?: string; seq?: number; records?: number } } | null;
  };
}
