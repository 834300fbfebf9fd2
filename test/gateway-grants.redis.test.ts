/**
 * Issue 10, probing: asking for a tool that is not configured, one the profile cannot grant
 * and one the key was not given must look the same to the caller (status, code, message and
 * body but for the tool's name), so an agent cannot learn which tools exist. The precise
 * reason is kept for operators, in the request's audit record.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAirlock, type TestAirlock } from './helpers/airlock.js';

describe('a refused tool grant', () => {
  let t: TestAirlock;
  let dir: string;
  let agentKey: string;
  let agentId: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'agw-grants-'));
    await cp(resolve(import.meta.dirname, '../profiles'), join(dir, 'profiles'), { recursive: true });
    const python = JSON.parse(await readFile(join(dir, 'profiles/python.json'), 'utf8')) as Record<string, unknown>;
    await writeFile(join(dir, 'profiles/python.json'), JSON.stringify({ ...python, tools: ['staging', 'billing'] }));
    const tool = (name: string) => ({ name, type: 'http', origin: 'https://tools.example.com', methods: ['GET'], pathPrefixes: ['/'] });
    // staging: granted; billing: on the profile, not given to the key; hidden: configured, on no profile
    await writeFile(join(dir, 'tools.json'), JSON.stringify([tool('staging'), tool('billing'), tool('hidden')]));
    t = await startTestAirlock('gwgrants', { AIRLOCK_ROLE: 'api', AIRLOCK_PROFILES_DIR: join(dir, 'profiles'), AIRLOCK_TOOLS_FILE: join(dir, 'tools.json') });
    const created = await t.airlock.keys.create({ role: 'agent', tools: ['staging', 'hidden'] });
    agentKey = created.key;
    agentId = created.id;
  });

  afterAll(async () => {
    await t?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const ask = (tool: string) => t.request('POST', '/v1/jobs', agentKey, { runtime: 'python', tools: [tool], command: 'true' });
  /** The answer with the tool's own name taken out. */
  const shape = (res: { status: number; body: unknown }, tool: string) => ({ status: res.status, body: JSON.parse(JSON.stringify(res.body).replaceAll(tool, '<tool>')) });

  it('answers the same for a tool that is not configured, not on the profile, or not the key’s', async () => {
    const answers = { nope: await ask('nope'), hidden: await ask('hidden'), billing: await ask('billing') };
    const shapes = Object.entries(answers).map(([tool, res]) => shape(res, tool));
    expect(shapes[0]).toEqual({
      status: 403,
      body: {
        error: {
          code: 'TOOL_NOT_GRANTED',
          message: `tools refused: <tool> (not granted to key ${agentId} on profile python)`,
          refused: [{ tool: '<tool>', reason: `not granted to key ${agentId} on profile python` }],
        },
      },
    });
    expect(shapes[1]).toEqual(shapes[0]);
    expect(shapes[2]).toEqual(shapes[0]);
  });

  it('keeps the precise reason in the audit record for operators', async () => {
    const admin = (await t.key('admin')).key;
    const records = (await t.request('GET', `/v1/audit?actor=${agentId}&limit=100`, admin)).body.records as Array<{
      outcome?: { error?: string };
      details?: { toolsRefused?: Array<{ tool: string; reason: string }> };
    }>;
    const reasons = records.filter((r) => r.outcome?.error === 'TOOL_NOT_GRANTED').flatMap((r) => r.details?.toolsRefused ?? []);
    expect(reasons).toEqual(
      expect.arrayContaining([
        { tool: 'nope', reason: 'no such tool is configured' },
        { tool: 'hidden', reason: 'not grantable on profile python' },
        { tool: 'billing', reason: `not granted to key ${agentId}` },
      ]),
    );
  });
});
