/**
 * What the monitor concluded about one run. Review reads `severity`: a `high` finding is never
 * auto-promoted. A detector's finding also names the detector, the attack class it belongs to
 * and the evidence it saw (where, an excerpt, and the layers it decoded to get there); findings
 * stored before detectors existed have none of the three, so all are optional.
 */
import { z } from 'zod';

export const SEVERITIES = ['low', 'medium', 'high'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** The attack classes detectors report (docs/threat-model.md, docs/detection-efficacy.md). */
export const FINDING_CLASSES = ['reverse_shell', 'credential_theft', 'persistence', 'escape'] as const;
export type FindingClass = (typeof FINDING_CLASSES)[number];

/** Where a piece of evidence was seen: what ran (code, patch, argv, env), what it left (stdout, stderr, artifact), or the kernel. */
export const EVIDENCE_SOURCES = ['code', 'patch', 'argv', 'env', 'stdout', 'stderr', 'artifact', 'kernel', 'paths'] as const;
export type EvidenceSource = (typeof EVIDENCE_SOURCES)[number];

export const EvidenceSchema = z
  .object({
    source: z.enum(EVIDENCE_SOURCES),
    /** The file (input, patched or collected) it was seen in. */
    path: z.string().optional(),
    line: z.number().int().positive().optional(),
    /** What was seen, cut short, control characters escaped; never a secret's value. */
    excerpt: z.string(),
    /** The layers decoded to reach it, outermost first (`base64`, `zlib`, `hex`, `folded`, …). */
    decoded: z.array(z.string()).readonly().optional(),
  })
  .readonly();
export type Evidence = z.infer<typeof EvidenceSchema>;

/** A finding as a job result stores it (the queue's JobResultSchema and review's schemas build on this). */
export const FindingSchema = z
  .object({
    /** Stable kind, e.g. `policy_violation`, `ci_config_change`, `reverse_shell`. */
    kind: z.string(),
    severity: z.enum(SEVERITIES),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).readonly().optional(),
    /** The detector that made it (`src/monitor/detectors`), e.g. `reverse-shell`, `tripwire`. */
    detector: z.string().optional(),
    /** Its attack class; absent for facts about the result itself (truncated output, refused files). */
    class: z.enum(FINDING_CLASSES).optional(),
    evidence: z.array(EvidenceSchema).readonly().optional(),
  })
  .readonly();
export type Finding = z.infer<typeof FindingSchema>;

/** The highest severity among the findings, `none` when there are none. */
export function riskOf(findings: readonly Finding[]): Severity | 'none' {
  let rank = -1;
  for (const f of findings) rank = Math.max(rank, SEVERITIES.indexOf(f.severity));
  return rank < 0 ? 'none' : SEVERITIES[rank]!;
}

/** An alarm: a finding of an attack class at medium or high (low ones are notes for the reviewer). */
export function isAlarm(f: Finding): boolean {
  return f.class !== undefined && f.severity !== 'low';
}
