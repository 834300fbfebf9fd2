/** promtool, Prometheus's checker: on PATH (Debian's prometheus package) or where scripts/setup.sh extracts it (<data>/bin). */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';

export function promtoolPath(): string {
  const onPath = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).stdout.trim();
  if (onPath !== '') return onPath;
  const data = process.env['AIRLOCK_DATA_DIR'] ?? resolve(import.meta.dirname, '../../.airlock');
  const extracted = join(data, 'bin', 'promtool');
  if (existsSync(extracted)) return extracted;
  throw new Error(`no promtool on PATH nor at ${extracted}: run npm run setup (it extracts promtool from Debian's prometheus package)`);
}
