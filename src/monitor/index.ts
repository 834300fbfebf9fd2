/** Public face of the monitor: findings over run results (later: rate baselines and anomalies). */
export { assessRun, type RunFacts } from './assess-run.js';
export { FindingSchema, riskOf, SEVERITIES, type Finding, type Severity } from './finding.js';
export { DEFAULT_SENSITIVE_PATHS, DEFAULT_SENSITIVE_PATH_RULES, PATH_FINDING_KINDS, pathFindings, type SensitivePathRules } from './sensitive-paths.js';
