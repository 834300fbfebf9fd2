/**
 * Fails the whole run loudly when the real infrastructure is missing: no suite is ever
 * skipped silently. `npm test` runs scripts/setup.sh first, which starts both.
 */
import { Redis } from 'ioredis';
import { request } from 'node:http';

export default async function setup(): Promise<void> {
  const url = process.env['AIRLOCK_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2000 });
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    throw new Error(`tests need a real Redis at ${url} (run: npm run setup): ${String(err)}`, { cause: err });
  } finally {
    redis.disconnect();
  }
  const socketPath = process.env['AIRLOCK_DOCKER_SOCKET'] ?? '/var/run/docker.sock';
  await new Promise<void>((resolve, reject) => {
    const req = request({ socketPath, path: '/_ping', timeout: 3000 }, (res) => {
      res.resume();
      if (res.statusCode === 200) resolve();
      else reject(new Error(`Docker engine at ${socketPath} answered ${res.statusCode}`));
    });
    req.on('error', (err) => reject(new Error(`tests need a real Docker engine at ${socketPath} (run: npm run setup): ${err.message}`)));
    req.end();
  });
}
