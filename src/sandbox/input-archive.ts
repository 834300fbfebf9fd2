import { pack } from 'tar-stream';
import type { SandboxFile } from './sandbox-spec.js';

/** A tar of collected artifacts (regular files, fixed mtime/mode), for `GET …/artifacts.tar`. */
export async function packFiles(files: readonly { path: string; content: Uint8Array }[]): Promise<Buffer> {
  const tar = pack();
  const chunks: Buffer[] = [];
  tar.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    tar.on('end', resolve);
    tar.on('error', reject);
  });
  for (const f of files) tar.entry({ name: f.path, mode: 0o644, mtime: new Date(0), type: 'file' }, Buffer.from(f.content));
  tar.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** Directory inside /work where the launcher finds stdin and the patch; removed before the command runs. */
export const CONTROL_DIR = '.airlock';

/**
 * Packs the job's files, stdin and patch into one tar for the launcher's stdin.
 * Paths were validated by the API; the launcher extracts as the sandbox user into
 * a tmpfs, so even a hostile name could only land inside the sandbox.
 */
export async function buildInputArchive(input: { files: readonly SandboxFile[]; stdin: Uint8Array; patch?: string }): Promise<Buffer> {
  const tar = pack();
  const chunks: Buffer[] = [];
  tar.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    tar.on('end', resolve);
    tar.on('error', reject);
  });
  const mtime = new Date(0);
  for (const f of input.files) {
    tar.entry({ name: f.path, mode: f.mode ?? 0o644, mtime, type: 'file' }, Buffer.from(f.content));
  }
  tar.entry({ name: `${CONTROL_DIR}/stdin`, mode: 0o600, mtime }, Buffer.from(input.stdin));
  if (input.patch !== undefined) tar.entry({ name: `${CONTROL_DIR}/patch`, mode: 0o600, mtime }, Buffer.from(input.patch, 'utf8'));
  tar.finalize();
  await done;
  return Buffer.concat(chunks);
}
