/**
 * The last check before a container is created: every engine field the policy derives from a
 * limit is set, an exact integer, and inside the range the engine honours (shared/limit-ranges.ts,
 * where the measurements are). On this engine 0 (and for some fields -1, or a missing tmpfs size)
 * means NO limit, and values just under a floor either round to none (NanoCpus) or make the start
 * fail with host details: neither may ever reach the engine. A violation is our bug (the API and
 * the profile schema refuse such limits), so it is INTERNAL and never retried. Pure.
 */
import { AppError, LIMIT_RANGES, type LimitName } from '../shared/index.js';
import { WORK_DIR, type ContainerCreateOptions } from './hardening.js';
import { GVISOR_HOST_PIDS, RUNTIME_OF } from './isolation-runtime.js';

/** Facts about the engine that bound a field further than the table does. */
export interface EngineFacts {
  /** The engine's CPU count (`docker info` NCPU): it refuses NanoCpus above NCPU * 1e9. */
  readonly cpus: number;
}

/** Engine field → the limit it carries, and its unit (engine value = limit * scale). */
const FIELDS: readonly { readonly field: string; readonly limit: LimitName; readonly scale?: number }[] = [
  { field: 'NanoCpus', limit: 'cpus', scale: 1e9 },
  { field: 'Memory', limit: 'memoryBytes' },
  { field: 'PidsLimit', limit: 'pids' },
  { field: 'ShmSize', limit: 'shmBytes' },
];
const ULIMITS: Readonly<Record<string, LimitName>> = { nofile: 'openFiles', fsize: 'fileSizeBytes' };
/** tmpfs mount → its limit; any other tmpfs gets the same page-to-TiB range. */
const TMPFS: Readonly<Record<string, LimitName>> = { [WORK_DIR]: 'scratchBytes', '/tmp': 'tmpBytes' };

export function assertEngineLimits(options: ContainerCreateOptions, engine: EngineFacts): void {
  const hc = options.HostConfig;
  // on gVisor the job's pids is RLIMIT_NPROC inside its kernel and the cgroup a fixed backstop (isolation-runtime.ts)
  const gvisor = hc['Runtime'] === RUNTIME_OF.gvisor;
  for (const { field, limit, scale = 1 } of FIELDS) {
    if (gvisor && field === 'PidsLimit') {
      inRange(field, hc[field], GVISOR_HOST_PIDS, GVISOR_HOST_PIDS);
      continue;
    }
    const r = LIMIT_RANGES[limit];
    const max = field === 'NanoCpus' ? Math.min(r.max, engine.cpus) : r.max;
    inRange(field, hc[field], Math.round(r.min * scale), Math.round(max * scale));
  }
  // no swap: MemorySwap (memory + swap) equals Memory; 0 would double it, -1 lift it
  if (hc['MemorySwap'] !== hc['Memory']) violation('MemorySwap', hc['MemorySwap'], `must equal Memory (${String(hc['Memory'])}): no swap`);
  checkUlimits(hc['Ulimits'], gvisor ? { ...ULIMITS, nproc: 'pids' } : ULIMITS);
  checkTmpfs(hc['Tmpfs']);
}

function checkUlimits(value: unknown, required: Readonly<Record<string, LimitName>>): void {
  if (!Array.isArray(value)) return violation('Ulimits', value, 'must be a list');
  const seen = new Set<string>();
  for (const u of value as { Name?: unknown; Soft?: unknown; Hard?: unknown }[]) {
    const name = String(u.Name);
    seen.add(name);
    const limit = required[name];
    if (limit !== undefined) {
      const r = LIMIT_RANGES[limit];
      inRange(`Ulimits.${name}.Soft`, u.Soft, r.min, r.max);
      inRange(`Ulimits.${name}.Hard`, u.Hard, r.min, r.max);
    } else {
      // any other rlimit (core: 0 = no core dumps) must be a real bound, never -1 (unlimited)
      inRange(`Ulimits.${name}.Soft`, u.Soft, 0, Number.MAX_SAFE_INTEGER);
      inRange(`Ulimits.${name}.Hard`, u.Hard, 0, Number.MAX_SAFE_INTEGER);
    }
    if ((u.Soft as number) > (u.Hard as number)) violation(`Ulimits.${name}`, u.Soft, `soft ${String(u.Soft)} is above hard ${String(u.Hard)}`);
  }
  for (const name of Object.keys(required)) if (!seen.has(name)) violation(`Ulimits.${name}`, undefined, 'must be set (the engine default is dockerd’s own, far looser)');
}

/** Every tmpfs needs an explicit size in bytes: without one, or with size=0, it is bounded by nothing but memory. */
function checkTmpfs(value: unknown): void {
  if (typeof value !== 'object' || value === null) return violation('Tmpfs', value, 'must be an object');
  for (const [path, opts] of Object.entries(value as Record<string, unknown>)) {
    const sizes = String(opts)
      .split(',')
      .filter((o) => o.startsWith('size='))
      .map((o) => o.slice('size='.length));
    const field = `Tmpfs[${path}].size`;
    if (sizes.length !== 1 || !/^[0-9]+$/.test(sizes[0]!)) return violation(field, sizes.join(','), 'must be given exactly once, in bytes');
    const r = LIMIT_RANGES[TMPFS[path] ?? 'scratchBytes'];
    inRange(field, Number(sizes[0]), r.min, r.max);
  }
}

function inRange(field: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) return violation(field, value, 'must be an integer');
  if (value < min || value > max) violation(field, value, `must be between ${min} and ${max}`);
}

function violation(field: string, value: unknown, why: string): never {
  const shown = typeof value === 'number' ? String(value) : (JSON.stringify(value) ?? 'unset');
  throw new AppError('INTERNAL', `refusing to create the container: ${field} ${shown} ${why} (0, -1 or unset would mean no limit to the engine)`, {
    retryable: false,
    details: { field },
  });
}
