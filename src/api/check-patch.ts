/**
 * A job's patch, checked at submit with the reader the monitor, the review gate and the git
 * target use (git): a patch git cannot read, or that names a path the API would refuse as an
 * input file, is a 400 naming `patch`. Whether GNU patch reads the same files depends on the
 * files it finds, so the sandbox's launcher checks that before any user code runs.
 */
import { AppError, isAppError, readPatch } from '../shared/index.js';
import { checkPath } from './check-path.js';

export async function checkPatch(patch: string): Promise<void> {
  let paths: readonly string[];
  try {
    paths = (await readPatch(patch)).paths;
  } catch (err) {
    if (isAppError(err) && err.code === 'INVALID_PATCH') throw new AppError('INVALID_PATCH', `patch: ${err.message}`, { details: { field: 'patch' }, cause: err });
    throw err;
  }
  for (const p of paths) {
    try {
      checkPath(p);
    } catch (err) {
      if (!isAppError(err)) throw err;
      throw new AppError('INVALID_PATCH', `patch: ${err.message}`, { details: { field: 'patch', path: p.slice(0, 300) } });
    }
  }
}
