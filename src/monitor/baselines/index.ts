export { BASELINE_DEFAULTS, BASELINE_METRICS, BaselineOptionsSchema, type BaselineMetric, type BaselineOptions } from './baseline-options.js';
