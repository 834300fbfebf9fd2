/**
 * Synthetic API traffic for the anomaly detector's efficacy (scripts/efficacy-anomaly.ts) and its
 * tests: per key, an hourly rate with daily and weekly seasonality, multiplicative day-to-day
 * noise and Poisson counts, sampled in 5-minute steps; attacks added on top. Deterministic: a
 * seed gives the same traffic. Shapes are split once, by rule, into development (used while
 * choosing the detector's parameters) and held out (never used for that).
 */

export const STEP_MS = 5 * 60_000;
export const HOUR_MS = 3_600_000;
export const WEEK_MS = 7 * 24 * HOUR_MS;
/** Monday 2026-01-05 00:00 UTC: week 0 of every replay. */
export const EPOCH_MS = Date.UTC(2026, 0, 5);

/** mulberry32: a small seeded PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(rand: () => number): number {
  const u = Math.max(rand(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

export function poisson(lambda: number, rand: () => number): number {
  if (lambda <= 0) return 0;
  if (lambda > 40) return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * gaussian(rand)));
  const l = Math.exp(-lambda);
  let k = 0;
  let p = 1;
  do {
    k++;
    p *= rand();
  } while (p > l);
  return k - 1;
}

export interface TrafficShape {
  readonly name: string;
  readonly heldOut: boolean;
  /** What it models. */
  readonly about: string;
  /** Expected requests in the hour starting at `hourOfWeek` (0 = Monday 00:00 UTC) of week `week`. */
  rate(hourOfWeek: number, week: number): number;
  /** σ of the log of the day's multiplicative noise (0: Poisson only). */
  readonly noise: number;
}

const dayOf = (h: number) => Math.floor(h / 24);
const hourOf = (h: number) => h % 24;
const weekend = (h: number) => dayOf(h) >= 5;
const bump = (x: number, centre: number, width: number) => Math.exp(-(((x - centre) / width) ** 2));

export const SHAPES: readonly TrafficShape[] = [
  // development
  {
    name: 'office-hours agent',
    heldOut: false,
    about: 'weekdays 08-18 UTC ~60/h, nights ~4/h, weekends ~3/h',
    noise: 0.15,
    rate: (h) => (weekend(h) ? 3 : 4 + 56 * bump(hourOf(h), 13, 4)),
  },
  { name: 'ci bot', heldOut: false, about: 'around the clock ~25/h, a little less at weekends', noise: 0.1, rate: (h) => (weekend(h) ? 18 : 25) },
  {
    name: 'nightly batch',
    heldOut: false,
    about: '~2/h, then ~150 in the 02:00 hour every day',
    noise: 0.2,
    rate: (h) => (hourOf(h) === 2 ? 150 : 2),
  },
  { name: 'quiet key', heldOut: false, about: '~1.5/h, 0 most hours', noise: 0.3, rate: (h) => (weekend(h) ? 0.5 : 1.5) },
  // these three were the first held-out set; one run of the first parameters looked at them, so they moved here
  {
    name: 'follow-the-sun',
    heldOut: false,
    about: 'two humps a day (~45/h at 09 and 20 UTC), weekends half',
    noise: 0.15,
    rate: (h) => (weekend(h) ? 0.5 : 1) * (3 + 42 * bump(hourOf(h), 9, 3) + 42 * bump(hourOf(h), 20, 3)),
  },
  {
    name: 'weekend-heavy',
    heldOut: false,
    about: '~8/h on weekdays, ~50/h on Saturday and Sunday daytime',
    noise: 0.2,
    rate: (h) => (weekend(h) ? 5 + 45 * bump(hourOf(h), 14, 5) : 8),
  },
  {
    name: 'noisy growing',
    heldOut: false,
    about: 'office hours ~40/h growing 10% a week, day-to-day noise σ 0.35',
    noise: 0.35,
    rate: (h, week) => (weekend(h) ? 4 : 5 + 35 * bump(hourOf(h), 12, 4)) * 1.1 ** week,
  },
  // held out: written before the parameters were tuned, never used to choose them
  {
    name: 'european business api',
    heldOut: true,
    about: 'weekdays 07-16 UTC ~80/h with a lunch dip, Fridays half, nights and weekends ~1/h',
    noise: 0.2,
    rate: (h) => (weekend(h) ? 1 : (dayOf(h) === 4 ? 0.5 : 1) * (1 + 80 * bump(hourOf(h), 11.5, 3.5) * (1 - 0.4 * bump(hourOf(h), 12.5, 0.7)))),
  },
  {
    name: 'cron plus humans',
    heldOut: true,
    about: 'a steady ~20/h job runner plus ~30/h of people on weekday afternoons',
    noise: 0.12,
    rate: (h) => 20 + (weekend(h) ? 0 : 30 * bump(hourOf(h), 15, 3)),
  },
  {
    name: 'sparse reviewer',
    heldOut: true,
    about: '~6/h on weekdays 09-17 UTC, nothing otherwise, very noisy days (σ 0.4)',
    noise: 0.4,
    rate: (h) => (!weekend(h) && hourOf(h) >= 9 && hourOf(h) < 17 ? 6 : 0),
  },
];

export type AttackKind = 'burst3' | 'burst10' | 'burst100' | 'lowAndSlow';

export interface Attack {
  readonly kind: AttackKind;
  readonly startMs: number;
  readonly endMs: number;
}

export const ATTACK_LABELS: Readonly<Record<AttackKind, string>> = {
  burst3: '3× burst for an hour',
  burst10: '10× burst for an hour',
  burst100: '100× burst for an hour',
  lowAndSlow: 'low-and-slow scan (+40% of the daily volume spread evenly over 3 days)',
};

/** Mean requests per hour of a shape over a week (what a scan hides under). */
export function meanHourly(shape: TrafficShape, week: number): number {
  let sum = 0;
  for (let h = 0; h < 168; h++) sum += shape.rate(h, week);
  return sum / 168;
}

/** Requests per 5-minute step for `weeks` weeks, the attack (if any) on top. */
export function replaySteps(shape: TrafficShape, seed: number, weeks: number, attack?: Attack): number[] {
  const rand = prng(seed);
  const steps: number[] = [];
  let dayNoise = 1;
  for (let s = 0; s < (weeks * WEEK_MS) / STEP_MS; s++) {
    const t = EPOCH_MS + s * STEP_MS;
    const hourIndex = Math.floor((t - EPOCH_MS) / HOUR_MS);
    const week = Math.floor(hourIndex / 168);
    if (s % 288 === 0) dayNoise = Math.exp(shape.noise * gaussian(rand) - shape.noise ** 2 / 2);
    let lambda = (shape.rate(hourIndex % 168, week) * dayNoise) / 12;
    if (attack !== undefined && t >= attack.startMs && t < attack.endMs) {
      if (attack.kind === 'lowAndSlow') lambda += (0.4 * meanHourly(shape, week)) / 12;
      else lambda *= attack.kind === 'burst3' ? 3 : attack.kind === 'burst10' ? 10 : 100;
    }
    steps.push(poisson(lambda, rand));
  }
  return steps;
}

/** Where an attack of a kind lands: week `week`, at an hour drawn from the seed (busy or quiet), for its duration. */
export function attackAt(kind: AttackKind, seed: number, week: number): Attack {
  const rand = prng(seed * 7919 + 17);
  const hourOfWeek = Math.floor(rand() * 168);
  const startMs = EPOCH_MS + week * WEEK_MS + hourOfWeek * HOUR_MS + Math.floor(rand() * 12) * STEP_MS;
  const hours = kind === 'lowAndSlow' ? 72 : 1;
  return { kind, startMs, endMs: startMs + hours * HOUR_MS };
}
