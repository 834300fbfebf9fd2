/** Public face of the monitor: findings and detectors over run results; per-key rate limits, behavioural baselines and anomalies. */
export { assessRun, type RunBehaviour, type RunFacts, type RunInput } from './assess-run.js';
export { DETECTORS, type Detector } from './detectors/index.js';
export { EvidenceSchema, FINDING_CLASSES, FindingSchema, isAlarm, riskOf, SEVERITIES, type Evidence, type Finding, type FindingClass, type Severity } from './finding.js';
export { DEFAULT_SENSITIVE_PATHS, DEFAULT_SENSITIVE_PATH_RULES, PATH_FINDING_KINDS, pathFindings, type SensitivePathRules } from './sensitive-paths.js';
export * from './rate-limits/index.js';
export * from './baselines/index.js';
export * from './anomalies/index.js';
