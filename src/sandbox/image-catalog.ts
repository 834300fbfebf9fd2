import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '../shared/index.js';

/**
 * Reads <dataDir>/images.json, written by scripts/build-images.sh: runtime name → image ID.
 * Jobs run images by ID (a content digest), never by a tag someone could move.
 */
export function loadImageCatalog(dataDir: string): ReadonlyMap<string, string> {
  const file = join(dataDir, 'images.json');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new AppError('IMAGE_MISSING', `no image catalog at ${file} (run: npm run setup)`, { cause: err });
  }
  const out = new Map<string, string>();
  for (const [name, v] of Object.entries(raw as Record<string, { id?: unknown }>)) {
    if (typeof v.id === 'string' && /^sha256:[0-9a-f]{64}$/.test(v.id)) out.set(name, v.id);
  }
  return out;
}
