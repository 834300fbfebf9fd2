/** `airlock capabilities`: the capability matrix of the live configuration (profiles, tools, keys, the images workers run). */
import type { Config } from '../config.js';
import { ApiKeyStore, CREDENTIAL_START_SLACK_MS } from '../credentials/index.js';
import { capabilityMatrix, formatCapabilityMatrix, loadProfiles } from '../profiles/index.js';
import { WorkerRegistry } from '../queue/index.js';
import { loadImageCatalog } from '../sandbox/index.js';
import { AsyncDisposableStack } from '../shared/index.js';
import { commandContext } from './command-context.js';
import { FAIL_FAST, openRedis } from './redis-connections.js';
import { loadTools } from './tools.js';

export async function capabilityReport(config: Config): Promise<{ matrix: ReturnType<typeof capabilityMatrix>; text: string }> {
  const profiles = loadProfiles(config.profilesDir);
  const tools = loadTools(config);
  await using stack = new AsyncDisposableStack();
  const redis = await openRedis(stack, config.redis, config.redis.prefix, 'cli', FAIL_FAST);
  const keys = await new ApiKeyStore(redis, config.redis.prefix, commandContext(config).clock).list();
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
  return { matrix, text: formatCapabilityMatrix(matrix) };
}
