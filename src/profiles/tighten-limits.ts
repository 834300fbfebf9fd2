import { AppError } from '../shared/index.js';
import { LIMIT_NAMES, type Limits } from './profile-schema.js';

/** A request may lower any limit, never raise it: a looser value is refused naming the field. */
export function tightenLimits(profileName: string, base: Limits, requested: Partial<Limits>): Limits {
  const out: Limits = { ...base };
  for (const name of LIMIT_NAMES) {
    const value = requested[name];
    if (value === undefined) continue;
    if (value > base[name]) {
      throw new AppError('LIMIT_EXCEEDS_PROFILE', `${name} ${value} exceeds the ${profileName} profile's limit of ${base[name]}; a request may only lower limits`, {
        details: { field: name, max: base[name] },
      });
    }
    out[name] = value;
  }
  return out;
}
