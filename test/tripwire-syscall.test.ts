import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tripwireSyscall } from '../src/sandbox/tripwire-syscall.js';

const line = (pid: number, nr: number) =>
  `6,1234,1432718448,-;audit: type=1326 audit(1795241318.893:60): auid=4294967295 uid=10001 gid=10001 ses=4294967295 pid=${pid} comm="python3" exe="/usr/bin/python3.11" sig=31 arch=c000003e syscall=${nr} compat=0 ip=0x7f0539d12217 code=0x80000000\n`;

let dir: string;
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('tripwireSyscall', () => {
  it("names the syscall from the kernel's seccomp record of exactly that pid", async () => {
    dir = await mkdtemp(join(tmpdir(), 'airlock-kmsg-'));
    const file = join(dir, 'kmsg');
    await writeFile(file, line(4242, 319) + line(13132, 101) + line(424, 41));
    expect(tripwireSyscall(13132, file)).toBe('ptrace');
    expect(tripwireSyscall(4242, file)).toBe('memfd_create');
    expect(tripwireSyscall(424, file)).toBe('socket');
    expect(tripwireSyscall(42, file)).toBeUndefined();
    expect(tripwireSyscall(0, file)).toBeUndefined();
    expect(tripwireSyscall(13132, join(dir, 'missing'))).toBeUndefined();
  });
});
