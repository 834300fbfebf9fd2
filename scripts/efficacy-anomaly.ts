/**
 * `npm run efficacy:anomaly`: the anomaly detector's efficacy on replayed synthetic traffic
 * (scripts/anomaly-traffic.ts): per traffic shape and seed, a clean key (false alarms per
 * key-week after its warm-up) and one key per attack (3×, 10×, 100× bursts for an hour, a
 * low-and-slow scan over three days): detection rate and time to detect. The detector is the
 * real one (AnomalyDetector over its Lua, on a real Redis, with the default parameters) on a
 * replayed clock. Held-out shapes are reported apart: they were not used to choose parameters.
 *
 * Prints the figures and writes its own section of docs/detection-efficacy.md, between the
 * ANOMALY_BEGIN/ANOMALY_END markers (`npm run efficacy` regenerates the other sections and keeps
 * this one as it is). Needs Redis (AIRLOCK_REDIS_URL, default 127.0.0.1:6379); its keys live under
 * a prefix of their own, deleted at the end.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { RedisAuditStore } from '../src/audit/index.js';
import { AnomalyDetector, BASELINE_DEFAULTS, BaselineOptionsSchema, LIMIT_DEFAULTS, RateLimiter, type BaselineOptions } from '../src/monitor/index.js';
import { createLogger, type Clock } from '../src/shared/index.js';
import { ATTACK_LABELS, attackAt, EPOCH_MS, HOUR_MS, replaySteps, SHAPES, STEP_MS, WEEK_MS, type Attack, type AttackKind, type TrafficShape } from './anomaly-traffic.js';

export const ANOMALY_BEGIN = '<!-- anomaly-efficacy:begin (npm run efficacy:anomaly) -->';
export const ANOMALY_END = '<!-- anomaly-efficacy:end -->';
const REPORT = fileURLToPath(new URL('../docs/detection-efficacy.md', import.meta.url));

const SEEDS = [1, 2, 3, 4, 5];
const KINDS: readonly AttackKind[] = ['burst3', 'burst10', 'burst100', 'lowAndSlow'];
/** Clean keys run 6 weeks: 2 of warm-up, 4 measured. Attack keys run 4: the attack lands in week 3. */
const CLEAN_WEEKS = 6;
const ATTACK_WEEKS = 4;
const ATTACK_WEEK = 3;
/** An anomaly counts as a detection up to this long after the attack ended. */
const GRACE_MS: Readonly<Record<AttackKind, number>> = { burst3: HOUR_MS, burst10: HOUR_MS, burst100: HOUR_MS, lowAndSlow: 24 * HOUR_MS };

interface Replay {
  readonly keyId: string;
  readonly shape: TrafficShape;
  readonly seed: number;
  readonly attack: Attack | undefined;
  readonly steps: number[];
  readonly detectedAt: number[];
}

/** Replays every key's steps through the detector, all keys at each step together (one clock). */
async function replay(replays: readonly Replay[], detector: AnomalyDetector, clock: { ms: number }): Promise<void> {
  const total = Math.max(...replays.map((r) => r.steps.length));
  for (let s = 0; s < total; s++) {
    clock.ms = EPOCH_MS + s * STEP_MS;
    await Promise.all(
      replays.map(async (r) => {
        const n = r.steps[s] ?? 0;
        if (n === 0) return;
        const a = await detector.record(r.keyId, 'requests', n);
        if (a !== undefined) r.detectedAt.push(clock.ms);
      }),
    );
    if (s % 2016 === 0) process.stderr.write(`\rreplay: week ${s / 2016} of ${total / 2016}`);
  }
  process.stderr.write('\n');
}

export interface PartFigures {
  readonly part: string;
  readonly cleanKeyWeeks: number;
  readonly falseAlarms: number;
  readonly byKind: Readonly<Record<AttackKind, { detected: number; total: number; ttdMinutes: number[] }>>;
  readonly byShape: readonly { shape: string; falseAlarms: number; keyWeeks: number; detected: Record<AttackKind, number>; total: number }[];
}

function figures(part: string, replays: readonly Replay[]): PartFigures {
  const measuredFrom = EPOCH_MS + 2 * WEEK_MS;
  const clean = replays.filter((r) => r.attack === undefined);
  const falseOf = (rs: readonly Replay[]) => rs.reduce((n, r) => n + r.detectedAt.filter((t) => t >= measuredFrom).length, 0);
  const detection = (r: Replay) => r.detectedAt.find((t) => r.attack !== undefined && t >= r.attack.startMs && t < r.attack.endMs + GRACE_MS[r.attack.kind]);
  const byKind = Object.fromEntries(
    KINDS.map((k) => {
      const rs = replays.filter((r) => r.attack?.kind === k);
      const ttd = rs.flatMap((r) => {
        const t = detection(r);
        return t === undefined ? [] : [(t + STEP_MS - r.attack!.startMs) / 60_000];
      });
      return [k, { detected: ttd.length, total: rs.length, ttdMinutes: ttd }];
    }),
  ) as PartFigures['byKind'];
  const shapes = [...new Set(replays.map((r) => r.shape.name))];
  const byShape = shapes.map((name) => {
    const rs = replays.filter((r) => r.shape.name === name);
    const cleanRs = rs.filter((r) => r.attack === undefined);
    return {
      shape: name,
      falseAlarms: falseOf(cleanRs),
      keyWeeks: cleanRs.length * (CLEAN_WEEKS - 2),
      detected: Object.fromEntries(KINDS.map((k) => [k, rs.filter((r) => r.attack?.kind === k && detection(r) !== undefined).length])) as Record<AttackKind, number>,
      total: SEEDS.length,
    };
  });
  return { part, cleanKeyWeeks: clean.length * (CLEAN_WEEKS - 2), falseAlarms: falseOf(clean), byKind, byShape };
}

const median = (xs: number[]) => (xs.length === 0 ? NaN : [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!);
const pct = (a: number, b: number) => (b === 0 ? '—' : `${((100 * a) / b).toFixed(0)}%`);
const mins = (x: number) => (Number.isNaN(x) ? '—' : `${Math.round(x)} min`);

export function summary(f: PartFigures): string[] {
  return [
    `${f.part}: false alarms ${f.falseAlarms} in ${f.cleanKeyWeeks} clean key-weeks (${(f.falseAlarms / f.cleanKeyWeeks).toFixed(3)} per key-week)`,
    ...KINDS.map((k) => {
      const b = f.byKind[k];
      return `${f.part}: ${k.padEnd(10)} detected ${b.detected}/${b.total} (${pct(b.detected, b.total)}), time to detect median ${mins(median(b.ttdMinutes))}, max ${mins(Math.max(...b.ttdMinutes))}`;
    }),
  ];
}

export function renderSection(parts: readonly PartFigures[], o: BaselineOptions): string {
  const rows = parts.flatMap((f) =>
    KINDS.map((k) => {
      const b = f.byKind[k];
      const max = b.ttdMinutes.length === 0 ? NaN : Math.max(...b.ttdMinutes);
      return `| ${f.part} | ${ATTACK_LABELS[k]} | ${b.detected}/${b.total} (${pct(b.detected, b.total)}) | ${mins(median(b.ttdMinutes))} | ${mins(max)} |`;
    }),
  );
  const fp = parts.map((f) => `| ${f.part} | ${f.falseAlarms} | ${f.cleanKeyWeeks} | ${(f.falseAlarms / f.cleanKeyWeeks).toFixed(3)} |`);
  const shapes = parts.flatMap((f) =>
    f.byShape.map((s) => `| ${f.part} | ${s.shape} | ${s.falseAlarms}/${s.keyWeeks} | ${KINDS.map((k) => `${s.detected[k]}/${s.total}`).join(' | ')} |`),
  );
  const about = SHAPES.map((s) => `- ${s.heldOut ? 'held out' : 'development'}: **${s.name}**: ${s.about}`);
  return [
    ANOMALY_BEGIN,
    '## Anomalous traffic: the baseline detector',
    '',
    'Generated by `npm run efficacy:anomaly` (its own section: `npm run efficacy` keeps it as it is).',
    'Replayed synthetic traffic (scripts/anomaly-traffic.ts): per key an hourly rate with daily and weekly',
    'seasonality, day-to-day multiplicative noise and Poisson counts in 5-minute steps, through the real',
    'detector (AnomalyDetector and its Lua on Redis) on a replayed clock. Per shape, 5 seeds: a clean key',
    `replayed ${CLEAN_WEEKS} weeks (the first 2 are its warm-up; false alarms are counted over the other ${CLEAN_WEEKS - 2}), and one key`,
    `per attack, landing at a random hour of week ${ATTACK_WEEK + 1} (busy or quiet). A detection is an anomaly between the`,
    "attack's start and 1 h after its end (24 h for the scan); time to detect is measured to the end of the",
    '5-minute step in which it fired. The held-out shapes were written before the parameters were chosen and',
    'never used to choose them; quote those figures. (A first held-out set was looked at once, with the first',
    'parameters; its three shapes then moved to development and a new held-out set was committed before tuning.)',
    '',
    `Parameters (the defaults): z ≥ ${o.zThreshold}, excess over the mean ≥ ${o.minExcess} requests, EWMA α ${o.alpha},`,
    `warm-up ${o.warmupHours} h, ≥ ${o.minSamples} samples per bucket; buckets: 168 hours of the week and 7 days of the week.`,
    '',
    '| part | attack | detected | median time to detect | max |',
    '|---|---|---|---|---|',
    ...rows,
    '',
    '| part | false alarms | clean key-weeks | per key-week |',
    '|---|---|---|---|',
    ...fp,
    '',
    '| part | shape | false alarms / key-weeks | 3× | 10× | 100× | scan |',
    '|---|---|---|---|---|---|---|',
    ...shapes,
    '',
    'Shapes:',
    ...about,
    '',
    'What it cannot see, by design: an excess smaller than the absolute floor (a 3× burst of a key that',
    'makes 1–2 requests an hour is 3–6 requests), and a rise slower than the EWMA follows (a key that',
    "doubles over weeks becomes its own baseline), and a burst multiplies the hour's usual rate, so a burst of",
    'a key that is silent at that hour (sparse reviewer at night) adds nothing to see. The rate limits bound all three.',
    ANOMALY_END,
  ].join('\n');
}

/** What `npm run efficacy` writes, with this section carried over from the report it replaces. */
export function keepAnomalySection(doc: string, existing: string | undefined): string {
  const a = existing?.indexOf(ANOMALY_BEGIN) ?? -1;
  const b = existing?.indexOf(ANOMALY_END) ?? -1;
  return existing === undefined || a < 0 || b < a ? doc : withSection(doc, existing.slice(a, b + ANOMALY_END.length));
}

/** The report with this section replaced (or appended). */
export function withSection(doc: string | undefined, section: string): string {
  const base = doc ?? '# Detection efficacy\n';
  const a = base.indexOf(ANOMALY_BEGIN);
  const b = base.indexOf(ANOMALY_END);
  if (a >= 0 && b > a) return `${base.slice(0, a)}${section}${base.slice(b + ANOMALY_END.length)}`;
  return `${base.trimEnd()}\n\n${section}\n`;
}

async function main(): Promise<void> {
  const redis = new Redis(process.env['AIRLOCK_REDIS_URL'] ?? 'redis://127.0.0.1:6379', { lazyConnect: false });
  const prefix = `efficacy-anomaly-${process.pid}`;
  const clock = { ms: EPOCH_MS };
  const replayClock: Clock = { now: () => clock.ms, sleep: () => Promise.resolve() };
  const logger = createLogger({ level: 'silent' });
  const audit = new RedisAuditStore({ redis, prefix, clock: replayClock });
  const limiter = new RateLimiter({ redis, prefix, options: LIMIT_DEFAULTS, clock: replayClock });
  // --set name=value: try a parameter on the development shapes (the report always uses the defaults)
  const tried = Object.fromEntries(process.argv.flatMap((a, i) => (process.argv[i - 1] === '--set' ? [[a.split('=')[0]!, Number(a.split('=')[1])]] : [])));
  const options = BaselineOptionsSchema.parse({ ...BASELINE_DEFAULTS, ...tried });
  const detector = new AnomalyDetector({ redis, prefix, options, limiter, clock: replayClock, logger, append: (e) => audit.append(e) });
  try {
    const parts: PartFigures[] = [];
    // --development: the development shapes only (while choosing parameters), nothing written
    const development = process.argv.includes('--development');
    for (const heldOut of development ? [false] : [false, true]) {
      const replays: Replay[] = [];
      for (const shape of SHAPES.filter((s) => s.heldOut === heldOut)) {
        for (const seed of SEEDS) {
          const id = `${shape.name.replace(/\W+/g, '-')}-${seed}`;
          replays.push({ keyId: `clean-${id}`, shape, seed, attack: undefined, steps: replaySteps(shape, seed, CLEAN_WEEKS), detectedAt: [] });
          for (const kind of KINDS) {
            const attack = attackAt(kind, seed * 31 + shape.name.length, ATTACK_WEEK);
            replays.push({ keyId: `${kind}-${id}`, shape, seed, attack, steps: replaySteps(shape, seed, ATTACK_WEEKS, attack), detectedAt: [] });
          }
        }
      }
      await replay(replays, detector, clock);
      const f = figures(heldOut ? 'held out' : 'development', replays);
      for (const line of summary(f)) console.log(line);
      parts.push(f);
    }
    if (development) return;
    if (Object.keys(tried).length > 0) throw new Error('--set is for --development runs only: the report uses the defaults');
    const doc = existsSync(REPORT) ? readFileSync(REPORT, 'utf8') : undefined;
    writeFileSync(REPORT, withSection(doc, renderSection(parts.reverse(), BASELINE_DEFAULTS)));
    console.log(`wrote its section of ${REPORT}`);
  } finally {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `{${prefix}}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
    redis.disconnect();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
