import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tripwiresOfGid } from '../src/sandbox/tripwire-syscall.js';

const line = (gid: number, nr: number, sig = 31) =>
  `6,1234,1432718448,-;audit: type=1326 audit(1795241318.893:60): auid=4294967295 uid=10001 gid=${gid} ses=4294967295 pid=4242 comm="python3" exe="/usr/bin/python3.11" sig=${sig} arch=c000003e syscall=${nr} compat=0 ip=0x7f0539d12217 code=0x80000000\n`;

let dir: string;
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('tripwiresOfGid', () => {
  it("lists the syscalls the kernel killed that job's gid for, and nothing of other jobs", async () => {
    dir = await mkdtemp(join(tmpdir(), 'airlock-kmsg-'));
    const file = join(dir, 'kmsg');
    await writeFile(file, line(200123, 319) + line(300456, 101) + line(200123, 41) + line(2001234, 101));
    expect(tripwiresOfGid(200123, file)).toEqual({ readable: true, syscalls: ['memfd_create', 'socket'] });
    expect(tripwiresOfGid(300456, file)).toEqual({ readable: true, syscalls: ['ptrace'] });
    expect(tripwiresOfGid(999999, file)).toEqual({ readable: true, syscalls: [] });
    expect(tripwiresOfGid(200123, join(dir, 'missing'))).toEqual({ readable: false, syscalls: [] });
    expect(tripwiresOfGid(0, file).readable).toBe(false);
  });
});
