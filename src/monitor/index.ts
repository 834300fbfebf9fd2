/** Public face of the monitor: findings over run results (later: rate baselines and anomalies). */
export { assessRun, patchPaths, type RunFacts } from './assess-run.js';
export { riskOf, SEVERITIES, type Finding, type Severity } from './finding.js';
