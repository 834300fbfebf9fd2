/** The approval policy file: validated at start-up, every problem named at once; what each target requires. */
import { describe, expect, it } from 'vitest';
import { parseApprovalPolicy, requirementFor } from '../src/review/index.js';
import { configError } from './helpers/config-error.js';

const dirTarget = { type: 'directory', path: '/srv/staging' };

const problems = (raw: unknown) => configError(() => parseApprovalPolicy(raw));

describe('approval policy', () => {
  it('reports every problem at once, by path', () => {
    const msg = problems({
      targets: {
        a: { target: { type: 'ftp', path: '/x' }, approval: { mode: 'auto' } },
        b: { target: dirTarget, approval: { mode: 'review', approvals: 0, groups: [] } },
        c: {
          target: dirTarget,
          approval: { mode: 'review', approvals: 1, groups: ['ops'] },
          reviewTimeoutMs: 60_000,
          escalation: { afterMs: 90_000, group: 'leads', webhook: { url: 'http://h/x', secret: 'K' } },
        },
        'Bad Name': { target: dirTarget, approval: { mode: 'auto' } },
      },
      extra: true,
    });
    expect(msg).toContain('version');
    expect(msg).toContain('targets.a.target');
    expect(msg).toContain('targets.b.approval.approvals');
    expect(msg).toContain('targets.b.approval.groups');
    expect(msg).toContain('targets.c.escalation.afterMs');
    expect(msg).toContain('Bad Name');
    expect(msg).toContain('extra');
  });

  it('refuses secrets written into the file: hooks name a secret', () => {
    expect(problems({ version: '1', notifications: { url: 'https://chat/x', secret: 'hunter2-plain-value' }, targets: {} })).toContain('notifications.secret');
  });

  it('records a version and a digest that changes with any rule', () => {
    const base = { version: '7', targets: { s: { target: dirTarget, approval: { mode: 'review', approvals: 1, groups: ['ops'] } } } };
    const a = parseApprovalPolicy(base);
    const b = parseApprovalPolicy({ ...base, targets: { s: { ...base.targets.s, approval: { mode: 'review', approvals: 2, groups: ['ops'] } } } });
    expect(a.version).toBe('7');
    expect(a.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(b.digest).not.toBe(a.digest);
    expect(a.targets.get('s')?.reviewTimeoutMs).toBe(24 * 3600 * 1000);
  });

  it('a high-risk result is never automatic and always needs the security group', () => {
    const p = parseApprovalPolicy({
      version: '1',
      securityGroup: 'sec',
      targets: {
        auto: { target: dirTarget, approval: { mode: 'auto' } },
        two: { target: dirTarget, approval: { mode: 'review', approvals: 2, groups: ['ops'] } },
      },
    });
    const auto = p.targets.get('auto')!;
    const two = p.targets.get('two')!;
    expect(requirementFor(p, auto, false)).toEqual({ approvals: 0, groups: [], requireGroup: null, basis: 'automatic' });
    expect(requirementFor(p, auto, true)).toEqual({ approvals: 1, groups: ['sec'], requireGroup: 'sec', basis: 'high_risk' });
    expect(requirementFor(p, two, false)).toEqual({ approvals: 2, groups: ['ops'], requireGroup: null, basis: 'policy' });
    expect(requirementFor(p, two, true)).toEqual({ approvals: 2, groups: ['ops', 'sec'], requireGroup: 'sec', basis: 'high_risk' });
  });
});
