/** What the monitor concluded about one run. Review reads `severity`: a `high` finding is never auto-promoted. */
import { z } from 'zod';

export const SEVERITIES = ['low', 'medium', 'high'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** A finding as a job result stores it (the queue's JobResultSchema and review's schemas build on this). */
export const FindingSchema = z
  .object({
    /** Stable kind, e.g. `policy_violation`, `ci_config_change`. */
    kind: z.string(),
    severity: z.enum(SEVERITIES),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).readonly().optional(),
  })
  .readonly();
export type Finding = z.infer<typeof FindingSchema>;

/** The highest severity among the findings, `none` when there are none. */
export function riskOf(findings: readonly Finding[]): Severity | 'none' {
  let rank = -1;
  for (const f of findings) rank = Math.max(rank, SEVERITIES.indexOf(f.severity));
  return rank < 0 ? 'none' : SEVERITIES[rank]!;
}
