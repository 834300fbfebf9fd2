/**
 * What the MCP tools call: the REST API's operations, through the typed client (`airlock mcp`
 * over stdio: a running API; POST /mcp: the same routes in-process), so every tool call meets
 * the same authentication, limits, grants, visibility and audit as REST.
 */
import type { Airlock, JobView } from '../client/index.js';

export type AirlockCalls = Pick<Airlock, 'submitJob' | 'getJob' | 'cancelJob' | 'listProfiles' | 'capabilities' | 'requestPromotion' | 'getPromotion'>;

export interface McpBackend extends AirlockCalls {
  /** One wait step for a job this tool call submitted: the job once it ends, or as it is after `waitS` seconds. */
  awaitJob(id: string, waitS: number): Promise<JobView>;
}

/** A backend over the client alone: waits are long-polls of GET /v1/jobs/:id?wait=N. */
export function clientBackend(client: Airlock): McpBackend {
  return {
    submitJob: (request, opts) => client.submitJob(request, opts),
    getJob: (id, opts) => client.getJob(id, opts),
    cancelJob: (id) => client.cancelJob(id),
    listProfiles: () => client.listProfiles(),
    capabilities: () => client.capabilities(),
    requestPromotion: (jobId, request) => client.requestPromotion(jobId, request),
    getPromotion: (id) => client.getPromotion(id),
    awaitJob: (id, waitS) => client.getJob(id, { waitS }),
  };
}
