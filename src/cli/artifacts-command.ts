/** `airlock artifacts gc [--delete]`: what the artifact garbage collector would remove (a dry run), or removes. */
import type { Config } from '../config.js';
import { AppError, collectArtifactGarbage } from '../root/index.js';

export const ARTIFACTS_USAGE = 'usage: airlock artifacts gc [--delete]';

export async function artifactsCommand(sub: string | undefined, flags: ReadonlyMap<string, string>, config: Config, out: (s: string) => void): Promise<number> {
  if (sub !== 'gc') throw new AppError('INVALID_REQUEST', ARTIFACTS_USAGE);
  const dryRun = !flags.has('delete');
  const r = await collectArtifactGarbage(config, { dryRun });
  out(`${r.blobs} blobs (${r.bytes} bytes): ${r.referenced} referenced, ${r.young} younger than ${config.artifactsGc.minAgeMs} ms, ${r.pinned} pinned by a write in progress`);
  for (const d of r.removedDigests) out(`${dryRun ? 'would remove' : 'removed'} ${d}`);
  out(dryRun ? `dry run: ${r.removed} blobs (${r.removedBytes} bytes) would be removed; run with --delete to remove them` : `removed ${r.removed} blobs (${r.removedBytes} bytes)`);
  return 0;
}
