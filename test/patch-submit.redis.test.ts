/**
 * A job's patch is read by git at submit (API role only: no worker): a patch git cannot read,
 * or one naming a path the API refuses for input files, is `400 INVALID_PATCH` naming `patch`,
 * before anything is queued. GNU patch reads context, normal and ed diffs git ignores: those
 * used to reach the sandbox and apply there, unseen by the monitor and the git target.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAirlock, type TestAirlock } from './helpers/airlock.js';

let t: TestAirlock;
let agent: string;

beforeAll(async () => {
  t = await startTestAirlock('patch-submit', { AIRLOCK_ROLE: 'api' });
  agent = (await t.key('agent')).key;
});
afterAll(async () => {
  await t?.stop();
});

const submit = (patch: string) => t.request('POST', '/v1/jobs', agent, { runtime: 'shell', command: 'true', files: [{ path: 'README.md', content: 'hello\n' }], patch });

describe('POST /v1/jobs with a patch', () => {
  it.each([
    ['an empty patch', ''],
    ['text that is no diff', 'please apply\n'],
    ['a context diff', ['*** a/README.md', '--- b/README.md', '***************', '*** 1 ****', '! hello', '--- 1 ----', '! bye', ''].join('\n')],
    ['a normal diff named by Index:', ['Index: .github/workflows/ci.yml', '0a1', '> on: push', ''].join('\n')],
    ['an ed script', ['1c', 'bye', '.', 'w', ''].join('\n')],
  ])('%s is 400 INVALID_PATCH', async (_, patch) => {
    const res = await submit(patch);
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'INVALID_PATCH', field: 'patch' });
  });

  it.each([
    ['a path that climbs', '+++ b/../escape.txt', '..'],
    ["the launcher's control folder", '+++ b/.airlock/stdin', '.airlock'],
    ['a C-quoted control character', '+++ "b/a\\033[2Jb"', 'control'],
  ])('a patch naming %s is 400 INVALID_PATCH', async (_, header, why) => {
    const res = await submit(['--- /dev/null', header, '@@ -0,0 +1 @@', '+x', ''].join('\n'));
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'INVALID_PATCH', field: 'patch' });
    expect(res.body.error.message).toContain(why);
  });

  it('a patch git reads is accepted, whatever its header form', async () => {
    for (const header of ['+++ b/new.txt', '+++ "b/new file.txt"', '+++  b/two-spaces.txt', '+++ x/strip.txt']) {
      const res = await submit(['--- /dev/null', header, '@@ -0,0 +1 @@', '+x', ''].join('\n'));
      expect(res.status, `${header}: ${JSON.stringify(res.body)}`).toBe(202);
    }
  });
});
