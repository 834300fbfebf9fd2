/** The REST routes' request schemas other front doors derive theirs from (the MCP tools' input schemas). */
import type { RestSchemas } from '../mcp/index.js';
import { JobRequestSchema } from './job-request-schema.js';
import { PromotionRequestBody } from './routes/promotions.js';

export const REST_SCHEMAS: RestSchemas = { jobRequest: JobRequestSchema, promotionRequest: PromotionRequestBody };
