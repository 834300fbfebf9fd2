/**
 * Commits each promotion to a branch of a git repository (bare or not). Work happens in a
 * private clone; the real repository only receives a fast-forward push of one new commit.
 * The tree is built in the index with plumbing (hash-object --no-filters, update-index), so
 * the repository's .gitattributes, hooks and symlinks never touch the bytes or the host.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AppError, GitCommandError, gitRunner, isAppError, type GitRunner } from '../../shared/index.js';
import type { ApplyOutcome, PromotedFile, PromotionPayload, StagingTarget } from '../promotion-target.js';
import { checkPromotedFiles, checkPromotionId, unsafePathReason } from './promoted-paths.js';

/** Branch names we accept: slash-separated segments of letters, digits, `_`, `-`, `.` (no `..`, no `.lock`). */
export const SAFE_BRANCH_PATTERN = /^(?!.*\.lock(?:\/|$))(?!HEAD$)[A-Za-z0-9_][A-Za-z0-9_-]*(?:[./][A-Za-z0-9_-]+)*$/;

export interface GitTargetOptions {
  readonly name: string;
  /** Path of a local repository, bare or not. Resolved to an absolute path. */
  readonly repo: string;
  readonly branch?: string;
  /** Folder inside the tree that receives the artifacts; the root by default. */
  readonly subdir?: string;
  /** git binary. */
  readonly git?: string;
}

const AUTHOR_ENV = { GIT_AUTHOR_NAME: 'Airlock', GIT_AUTHOR_EMAIL: 'airlock@localhost', GIT_COMMITTER_NAME: 'Airlock', GIT_COMMITTER_EMAIL: 'airlock@localhost' };

/** A value that lands in one commit-message line: a newline in it could forge a trailer. */
// eslint-disable-next-line no-control-regex
const oneLine = (s: string) => s.replace(/[\u0000-\u001f\u007f]/g, '\uFFFD');

export function promotionCommitMessage(p: PromotionPayload): string {
  const approvers = p.approvers.length > 0 ? p.approvers.map((a) => `Approved-by: ${oneLine(a.principal)} (${oneLine(a.keyId)})`) : ['Approved-by: automatic (policy)'];
  return [
    `airlock: promote ${oneLine(p.jobId)} to ${oneLine(p.target)}`,
    '',
    `Promotion: ${p.promotionId}`,
    `Job: ${oneLine(p.jobId)}`,
    `Artifact-Digest: ${oneLine(p.artifactDigest)}`,
    `Requested-by: ${oneLine(p.requester.principal)}`,
    ...approvers,
    '',
  ].join('\n');
}

function configError(name: string, why: string): AppError {
  return new AppError('CONFIG_INVALID', `git target ${name}: ${why}`);
}

export class GitTarget implements StagingTarget {
  readonly type = 'git' as const;
  readonly name: string;
  readonly repo: string;
  readonly branch: string;
  readonly subdir: string | undefined;
  private readonly gitBinary: string;

  constructor(opts: GitTargetOptions) {
    this.name = opts.name;
    this.repo = resolve(opts.repo);
    this.branch = opts.branch ?? 'staging';
    this.subdir = opts.subdir;
    this.gitBinary = opts.git ?? 'git';
    if (!SAFE_BRANCH_PATTERN.test(this.branch)) throw configError(this.name, `branch ${JSON.stringify(this.branch)} is not a safe branch name`);
    const subdirProblem = this.subdir === undefined ? undefined : unsafePathReason(this.subdir);
    if (subdirProblem !== undefined) throw configError(this.name, `subdir ${subdirProblem}`);
  }

  async apply(payload: PromotionPayload): Promise<ApplyOutcome> {
    checkPromotionId(payload.promotionId);
    checkPromotedFiles(payload.files);
    const home = await mkdtemp(join(tmpdir(), 'airlock-git-target-'));
    const work = join(home, 'clone');
    const run = gitRunner(this.gitBinary, home);
    const git: GitRunner = (args, opts) => run(args, { cwd: work, ...opts });
    try {
      await run(['clone', '--no-checkout', '--no-hardlinks', '-q', '--', this.repo, work]);
      const tip = await revParse(git, `refs/remotes/origin/${this.branch}`);
      const existing = tip === undefined ? undefined : await findPromotionCommit(git, tip, payload.promotionId);
      if (existing !== undefined) return this.outcome(existing, true);
      // a missing branch starts at the repository's default HEAD, or as a root commit when it is empty
      const base = tip ?? (await revParse(git, 'HEAD'));
      await git(base === undefined ? ['read-tree', '--empty'] : ['read-tree', base]);
      if (payload.files.length > 0) await this.stageFiles(git, home, payload.files);
      else if (payload.patch !== null) await this.stagePatch(git, payload.patch);
      const tree = (await git(['write-tree'])).trim();
      if (payload.files.length === 0 && payload.patch !== null) await this.checkPatchedModes(git, base, tree);
      const parents = base === undefined ? [] : ['-p', base];
      // commit-tree records the promotion even when the tree did not change
      const commit = (await git(['commit-tree', tree, ...parents, '-F', '-'], { input: promotionCommitMessage(payload), env: AUTHOR_ENV })).trim();
      await git(['push', '-q', 'origin', `${commit}:refs/heads/${this.branch}`]);
      return this.outcome(commit, false);
    } catch (err) {
      if (isAppError(err)) throw err;
      const why = err instanceof Error ? err.message : String(err);
      throw new AppError('PROMOTION_APPLY_FAILED', `git target ${this.name}: ${why}`, { retryable: true, cause: err });
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  }

  private outcome(sha: string, alreadyApplied: boolean): ApplyOutcome {
    return { location: sha, details: { branch: this.branch, repo: this.repo, alreadyApplied } };
  }

  private inTree(path: string): string {
    return this.subdir === undefined ? path : `${this.subdir}/${path}`;
  }

  /** Artifacts overlay the tree: they replace what is at their paths and leave other files alone. */
  private async stageFiles(git: GitRunner, home: string, files: readonly PromotedFile[]): Promise<void> {
    const blobs = join(home, 'blobs');
    await mkdir(blobs);
    const blobPaths = files.map((_, i) => join(blobs, String(i)));
    for (const [i, f] of files.entries()) await writeFile(blobPaths[i]!, f.content);
    const shas = (await git(['hash-object', '-w', '--no-filters', '--stdin-paths'], { input: `${blobPaths.join('\n')}\n` })).trim().split('\n');
    if (shas.length !== files.length) throw new Error(`git hash-object returned ${shas.length} ids for ${files.length} files`);
    const records = files.map((f, i) => `100644 ${shas[i]!}\t${this.inTree(f.path)}\0`).join('');
    // --replace: an artifact may replace a file where the branch had a folder, or the reverse
    await git(['update-index', '--add', '--replace', '-z', '--index-info'], { input: records });
  }

  private async stagePatch(git: GitRunner, patch: string): Promise<void> {
    const directory = this.subdir === undefined ? [] : [`--directory=${this.subdir}`];
    try {
      await git(['apply', '--cached', ...directory, '-'], { input: patch });
    } catch (err) {
      if (!(err instanceof GitCommandError)) throw err;
      throw new AppError('PROMOTION_APPLY_FAILED', `git target ${this.name}: the job's patch does not apply to ${this.branch}: ${err.stderr.trim().slice(0, 1000)}`, {
        retryable: false,
        cause: err,
      });
    }
  }

  /**
   * What the patch left where it changed the tree must be a regular file, as every artifact is:
   * no symlink, gitlink or new executable (git apply honours the patch's modes). Changing the
   * content of a file that already was executable keeps its mode.
   */
  private async checkPatchedModes(git: GitRunner, base: string | undefined, tree: string): Promise<void> {
    const from = base ?? (await git(['hash-object', '-t', 'tree', '/dev/null'])).trim();
    // -z records: ":<old mode> <new mode> <old id> <new id> <status>\0<path>\0"
    const parts = (await git(['diff-tree', '-r', '-z', '--no-renames', from, tree])).split('\0');
    const refused: string[] = [];
    for (let i = 0; i + 1 < parts.length; i += 2) {
      const [oldMode, newMode] = parts[i]!.slice(1).split(' ');
      if (newMode === '000000' || newMode === '100644' || (newMode === '100755' && oldMode === '100755')) continue;
      refused.push(`${parts[i + 1]!.slice(0, 200)} (mode ${newMode ?? '?'})`);
    }
    if (refused.length > 0) {
      throw new AppError(
        'PROMOTION_APPLY_FAILED',
        `git target ${this.name}: the job's patch leaves non-regular files: ${refused.slice(0, 5).join(', ')}; promotions carry regular files only`,
        {
          retryable: false,
        },
      );
    }
  }
}

async function revParse(git: GitRunner, ref: string): Promise<string | undefined> {
  try {
    return (await git(['rev-parse', '--verify', '-q', `${ref}^{commit}`])).trim();
  } catch (err) {
    if (err instanceof GitCommandError) return undefined;
    throw err;
  }
}

/** The commit on `tip`'s history that recorded `promotionId`; the grep is a prefilter, the exact trailer line decides. */
async function findPromotionCommit(git: GitRunner, tip: string, promotionId: string): Promise<string | undefined> {
  const trailer = `Promotion: ${promotionId}`;
  const out = await git(['log', '--fixed-strings', `--grep=${trailer}`, '--format=%H%x1f%B%x1e', tip, '--']);
  for (const record of out.split('\x1e')) {
    const [sha, message] = record.trim().split('\x1f');
    if (sha !== undefined && message !== undefined && message.split('\n').includes(trailer)) return sha;
  }
  return undefined;
}
