/** What the monitor concluded about one run. Review reads `severity`: a `high` finding is never auto-promoted. */
export const SEVERITIES = ['low', 'medium', 'high'] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface Finding {
  /** Stable kind, e.g. `policy_violation`, `ci_config_change`. */
  readonly kind: string;
  readonly severity: Severity;
  readonly message: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

/** The highest severity among the findings, `none` when there are none. */
export function riskOf(findings: readonly Finding[]): Severity | 'none' {
  let rank = -1;
  for (const f of findings) rank = Math.max(rank, SEVERITIES.indexOf(f.severity));
  return rank < 0 ? 'none' : SEVERITIES[rank]!;
}
