/**
 * Demultiplexes Docker's attach stream (8-byte frame headers: stream id, 3 zero bytes,
 * big-endian length) and counts bytes per stream. Nothing bounds that stream on the
 * engine side, so the cap is enforced here: past the limit we keep nothing more and
 * report the overflow so the caller can kill the container.
 *
 * The first line on stdout is the launcher's header (`\0AIRLOCK <status>\n`); it is
 * written before any user code runs, so it is parsed out and never counted as output.
 */

import type { Duplex } from 'node:stream';
import type { OutputListener } from './sandbox-spec.js';

const HEADER_PREFIX = Buffer.from('\0AIRLOCK ');
const MAX_HEADER_BYTES = 64;

export type LauncherStatus = 'ok' | 'input_failed' | 'patch_failed' | 'malformed';

class CappedBuffer {
  private readonly chunks: Buffer[] = [];
  kept = 0;
  seen = 0;
  constructor(private readonly limitBytes: number) {}

  /** Returns true when this write went past the limit. `onKept` gets the part kept, at its offset. */
  push(chunk: Buffer, onKept?: (offsetBytes: number, part: Buffer) => void): boolean {
    this.seen += chunk.length;
    const room = this.limitBytes - this.kept;
    if (room > 0) {
      const part = Buffer.from(chunk.length <= room ? chunk : chunk.subarray(0, room));
      this.chunks.push(part);
      onKept?.(this.kept, part);
      this.kept += part.length;
    }
    return this.seen > this.limitBytes;
  }

  get truncated(): boolean {
    return this.seen > this.limitBytes;
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** Splits Docker's multiplexed attach/exec stream into (stream id, payload) frames. */
export class FrameDemuxer {
  private pending: Buffer = Buffer.alloc(0);
  constructor(private readonly onFrame: (streamId: number, payload: Buffer) => void) {}

  write(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= 8) {
      const size = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + size) break;
      const streamId = this.pending[0]!;
      const payload = this.pending.subarray(8, 8 + size);
      this.pending = this.pending.subarray(8 + size);
      this.onFrame(streamId, payload);
    }
  }
}

export class OutputCapture {
  readonly stdout: CappedBuffer;
  readonly stderr: CappedBuffer;
  launcherStatus: LauncherStatus | undefined;
  private headerBuf: Buffer = Buffer.alloc(0);
  private readonly demux = new FrameDemuxer((streamId, payload) => {
    if (streamId === 1) this.onStdout(payload);
    else if (streamId === 2) this.onData(this.stderr, payload);
  });

  constructor(
    limits: { stdoutBytes: number; stderrBytes: number },
    private readonly onOverflow: () => void,
    /** The kept output as it arrives (live events); stdout only once the launcher said the command runs. */
    private readonly onOutput?: OutputListener,
  ) {
    this.stdout = new CappedBuffer(limits.stdoutBytes);
    this.stderr = new CappedBuffer(limits.stderrBytes);
  }

  /** Feed raw bytes from the attach stream. */
  write(chunk: Buffer): void {
    this.demux.write(chunk);
  }

  private onStdout(payload: Buffer): void {
    if (this.launcherStatus !== undefined) {
      this.onData(this.stdout, payload);
      return;
    }
    this.headerBuf = Buffer.concat([this.headerBuf, payload]);
    const nl = this.headerBuf.indexOf(0x0a);
    if (nl === -1) {
      if (this.headerBuf.length > MAX_HEADER_BYTES) this.setStatus('malformed', this.headerBuf);
      return;
    }
    const line = this.headerBuf.subarray(0, nl);
    const rest = this.headerBuf.subarray(nl + 1);
    let status: LauncherStatus = 'malformed';
    if (line.subarray(0, HEADER_PREFIX.length).equals(HEADER_PREFIX)) {
      const word = line.subarray(HEADER_PREFIX.length).toString('ascii');
      if (word === 'ok' || word === 'input_failed' || word === 'patch_failed') status = word;
    }
    this.setStatus(status, status === 'malformed' ? this.headerBuf : rest);
  }

  private setStatus(status: LauncherStatus, rest: Buffer): void {
    this.launcherStatus = status;
    this.headerBuf = Buffer.alloc(0);
    if (rest.length > 0) this.onData(this.stdout, rest);
  }

  private onData(target: CappedBuffer, payload: Buffer): void {
    const stream = target === this.stdout ? 'stdout' : 'stderr';
    // a patch tool's message (patch_failed) or an unpack failure is not the program's stdout: the result drops it too
    const live = this.onOutput !== undefined && (stream === 'stderr' || this.launcherStatus === 'ok' || this.launcherStatus === 'malformed');
    if (target.push(payload, live ? (offset, part) => this.onOutput?.(stream, offset, part) : undefined)) this.onOverflow();
  }
}

/** Resolves when a hijacked exec stream ends, feeding each chunk to `onData`. */
export function streamEnded(stream: Duplex, onData: (chunk: Buffer) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    stream.on('data', onData);
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', () => resolve());
  });
}
