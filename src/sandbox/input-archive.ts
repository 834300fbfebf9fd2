import { pack } from 'tar-stream';
import { patchCheckEntry } from './patch-check.js';
import type { SandboxFile } from './sandbox-spec.js';

/** Directory inside /work where the launcher finds stdin and the patch; removed before the command runs. */
export const CONTROL_DIR = '.airlock';

interface Entry {
  readonly path: string;
  readonly content: Uint8Array;
  readonly mode: number;
}

/** Regular files only, fixed mtime: the same files always give the same bytes. */
async function packEntries(entries: readonly Entry[]): Promise<Buffer> {
  const tar = pack();
  const chunks: Buffer[] = [];
  tar.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    tar.on('end', resolve);
    tar.on('error', reject);
  });
  for (const e of entries) tar.entry({ name: e.path, mode: e.mode, mtime: new Date(0), type: 'file' }, Buffer.from(e.content));
  tar.finalize();
  await done;
  return Buffer.concat(chunks);
}

/**
 * Packs the job's files, stdin and patch into one tar for the launcher's stdin.
 * Paths were validated by the API; the launcher extracts as the sandbox user into
 * a tmpfs, so even a hostile name could only land inside the sandbox.
 */
export async function buildInputArchive(input: { files: readonly SandboxFile[]; stdin: Uint8Array; patch?: string }): Promise<Buffer> {
  return packEntries([
    ...input.files.map((f) => ({ path: f.path, content: f.content, mode: f.mode ?? 0o644 })),
    { path: `${CONTROL_DIR}/stdin`, content: input.stdin, mode: 0o600 },
    // with the patch, git's reading of it: the launcher refuses a patch GNU patch reads otherwise
    ...(input.patch !== undefined
      ? [
          { path: `${CONTROL_DIR}/patch`, content: Buffer.from(input.patch, 'utf8'), mode: 0o600 },
          { ...(await patchCheckEntry(input.patch, CONTROL_DIR)), mode: 0o600 },
        ]
      : []),
  ]);
}
