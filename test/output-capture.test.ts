/**
 * The live output the sandbox hands out while a job runs (SandboxRun.onOutput) is exactly what
 * the stored result keeps: the launcher's header and a patch tool's message are never output,
 * each stream's offsets follow its bytes, and nothing past the cap is passed on.
 */
import { describe, expect, it } from 'vitest';
import { OutputCapture } from '../src/sandbox/output-capture.js';

const frame = (stream: 1 | 2, text: string) => {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
};

function capture(limits = { stdoutBytes: 1024, stderrBytes: 1024 }) {
  const live: { stream: string; offset: number; text: string }[] = [];
  const c = new OutputCapture(
    limits,
    () => undefined,
    (stream, offset, data) => live.push({ stream, offset, text: data.toString() }),
  );
  return { c, live };
}

describe('live output from the capture', () => {
  it('passes each stream on in order with its offsets, without the launcher header', () => {
    const { c, live } = capture();
    c.write(frame(2, 'warming up\n'));
    c.write(Buffer.concat([frame(1, '\0AIRLOCK ok\nhel'), frame(1, 'lo\n'), frame(2, 'done\n')]));
    expect(live).toEqual([
      { stream: 'stderr', offset: 0, text: 'warming up\n' },
      { stream: 'stdout', offset: 0, text: 'hel' },
      { stream: 'stdout', offset: 3, text: 'lo\n' },
      { stream: 'stderr', offset: 11, text: 'done\n' },
    ]);
    expect(c.stdout.toBuffer().toString()).toBe('hello\n');
  });

  it("a patch tool's message is not the program's output", () => {
    const { c, live } = capture();
    c.write(frame(1, '\0AIRLOCK patch_failed\nHunk #1 FAILED at 1.\n'));
    expect(c.launcherStatus).toBe('patch_failed');
    expect(live).toEqual([]);
  });

  it('stops at the cap: only the kept bytes go out', () => {
    const { c, live } = capture({ stdoutBytes: 5, stderrBytes: 1024 });
    c.write(Buffer.concat([frame(1, '\0AIRLOCK ok\n'), frame(1, 'abc'), frame(1, 'defgh'), frame(1, 'ijk')]));
    expect(live.map((l) => [l.offset, l.text])).toEqual([
      [0, 'abc'],
      [3, 'de'],
    ]);
    expect(c.stdout.truncated).toBe(true);
  });
});
