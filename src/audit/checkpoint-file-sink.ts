/**
 * Append-only file of checkpoints, one JSON line each: the source of truth for verify
 * (Redis holds convenience copies that an attacker with Redis access could also rewrite).
 */
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { canonicalJson } from '../shared/index.js';
import { parseCheckpoint, type Checkpoint } from './checkpoint.js';

export interface CheckpointLine {
  /** 1-based line number, for messages */
  readonly line: number;
  /** null when the line is not a well-formed checkpoint */
  readonly checkpoint: Checkpoint | null;
}

export class CheckpointFileSink {
  constructor(readonly path: string) {}

  /** Appends one line ('a': O_APPEND, so concurrent writers never interleave a short line) and syncs it. */
  async append(checkpoint: Checkpoint): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    const file = await open(this.path, 'a', 0o600);
    try {
      await file.appendFile(`${canonicalJson(checkpoint)}\n`);
      await file.datasync();
    } finally {
      await file.close();
    }
  }

  /** Every line in file order; an absent file is an empty list (verify then reports staleness). */
  async readAll(): Promise<CheckpointLine[]> {
    const out: CheckpointLine[] = [];
    const stream = createReadStream(this.path, { encoding: 'utf8' });
    try {
      await once(stream, 'open');
    } catch (err) {
      stream.destroy();
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return out;
      throw err;
    }
    let line = 0;
    for await (const text of createInterface({ input: stream, crlfDelay: Infinity })) {
      line += 1;
      if (text.trim() === '') continue;
      out.push({ line, checkpoint: parseCheckpoint(text) });
    }
    return out;
  }
}
