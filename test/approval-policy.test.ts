/** The approval policy file: validated at start-up, every problem named at once; what each target requires. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_SENSITIVE_PATHS, pathFindings } from '../src/monitor/index.js';
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

  it('carries the sensitive-path list: a default covering the CI systems, git hooks and package config, root dotfiles denied on automatic targets', () => {
    const p = parseApprovalPolicy({ version: '1', targets: {} });
    expect(p.sensitivePaths).toEqual({ paths: [...DEFAULT_SENSITIVE_PATHS], allowRootDotfiles: [] });
    const covered = [
      '.github/workflows/ci.yml',
      '.gitlab-ci.yml',
      '.gitlab/ci/x.yml',
      '.circleci/config.yml',
      '.buildkite/pipeline.yml',
      'Jenkinsfile',
      '.travis.yml',
      'azure-pipelines.yml',
      'bitbucket-pipelines.yml',
      '.drone.yml',
      '.gitmodules',
      '.gitattributes',
      '.husky/pre-commit',
      '.pre-commit-config.yaml',
      '.npmrc',
      '.yarnrc.yml',
    ];
    for (const path of covered)
      expect(pathFindings([path], p.sensitivePaths, { automatic: false }), path).toEqual([expect.objectContaining({ kind: 'ci_config_change', severity: 'high' })]);
    // any other root dotfile: never automatic, unless the policy allows it
    expect(pathFindings(['.editorconfig'], p.sensitivePaths, { automatic: true })).toEqual([expect.objectContaining({ kind: 'root_dotfile_change', severity: 'high' })]);
    expect(pathFindings(['.editorconfig'], p.sensitivePaths, { automatic: false })).toEqual([expect.objectContaining({ kind: 'root_dotfile_change', severity: 'medium' })]);
  });

  it('an operator may replace the list and allow root dotfiles; a bad glob is named by path; the digest follows', () => {
    const base = { version: '1', targets: {} };
    const custom = parseApprovalPolicy({ ...base, sensitivePaths: { paths: ['deploy/**', 'Makefile'], allowRootDotfiles: ['.editorconfig'] } });
    expect(pathFindings(['deploy/prod.sh', 'Makefile', '.github/x.yml'], custom.sensitivePaths, { automatic: false })).toEqual([
      expect.objectContaining({ kind: 'ci_config_change', details: { paths: ['Makefile', 'deploy/prod.sh'] } }),
      expect.objectContaining({ kind: 'root_dotfile_change' }),
    ]);
    expect(pathFindings(['.editorconfig'], custom.sensitivePaths, { automatic: true })).toEqual([]);
    expect(custom.digest).not.toBe(parseApprovalPolicy(base).digest);
    const msg = problems({ ...base, sensitivePaths: { paths: ['ok/**', '../up'], allowRootDotfiles: ['a/**b'], extra: 1 } });
    expect(msg).toContain('sensitivePaths.paths.1');
    expect(msg).toContain('sensitivePaths.allowRootDotfiles.0');
    expect(msg).toContain('extra');
  });

  it('a target may name the groups whose keys may request promotions to it', () => {
    const p = parseApprovalPolicy({ version: '1', targets: { prod: { target: dirTarget, approval: { mode: 'auto' }, requesters: ['release'] } } });
    expect(p.targets.get('prod')?.requesters).toEqual(['release']);
    expect(problems({ version: '1', targets: { prod: { target: dirTarget, approval: { mode: 'auto' }, requesters: [] } } })).toContain('targets.prod.requesters');
  });
});
