import { canonicalJson, sha256Hex } from '../shared/index.js';
import type { JobInput } from './job-types.js';

/**
 * The digest of what a job runs: sha256 of canonical JSON of the resolved argv, the files and
 * the patch. The API records it at submission and the worker at start, so the two link up.
 */
export function codeDigestOf(input: Pick<JobInput, 'argv' | 'files' | 'patch'>): string {
  return sha256Hex(canonicalJson({ argv: input.argv, files: input.files, patch: input.patch ?? null }));
}
