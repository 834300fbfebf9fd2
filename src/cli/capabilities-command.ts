/** `airlock capabilities`: the capability matrix of the live configuration, as tables (or --json). */
import type { Config } from '../config.js';
import { ApiKeyStore, CREDENTIAL_START_SLACK_MS } from '../credentials/index.js';
import { connectRedis, loadTools } from '../main.js';
import { capabilityMatrix, formatCapabilityMatrix, loadProfiles } from '../profiles/index.js';
import { WorkerRegistry } from '../queue/index.js';
import { loadImageCatalog } from '../sandbox/index.js';
import { systemClock } from '../shared/index.js';

export async function capabilitiesCommand(config: Config, json: boolean, out: (s: string) => void): Promise<number> {
  const profiles = loadProfiles(config.profilesDir);
  const tools = loadTools(config);
  const redis = await connectRedis(config.redis, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
  try {
    const keys = await new ApiKeyStore(redis, config.redis.prefix, systemClock).list();
    // what workers published; on a worker host, the local image catalog fills the gaps
    const images = await new WorkerRegistry(redis, config.redis.prefix, 60_000).images();
    try {
      for (const [name, id] of loadImageCatalog(config.dataDir)) if (!images.has(name)) images.set(name, id);
    } catch {
      /* not a worker host */
    }
    const matrix = capabilityMatrix({
      profiles,
      tools,
      keys,
      imageDigests: images,
      credential: { issuer: config.credentials.options.issuer, audience: config.credentials.options.audience, graceMs: config.credentials.options.graceMs },
      startSlackMs: CREDENTIAL_START_SLACK_MS,
    });
    out(json ? JSON.stringify(matrix, null, 2) : formatCapabilityMatrix(matrix));
    return 0;
  } finally {
    redis.disconnect();
  }
}
