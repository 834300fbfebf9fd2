export { buildApp, type AppDeps, type ApiAudit } from './build-app.js';
export { HTTP_STATUS } from './error-handler.js';
export { INPUT_CAPS } from './input-caps.js';
export { PromMetrics } from './metrics/prom-metrics.js';
export { REST_SCHEMAS } from './rest-schemas.js';
