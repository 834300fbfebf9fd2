/**
 * Caps on what one submission may carry. Each breach is a 4xx naming the cap. In shared so the
 * client (and `airlock run`, which packs a tree before sending it) states the same caps.
 */
export const INPUT_CAPS = {
  files: 256,
  fileBytes: 1024 * 1024,
  totalBytes: 4 * 1024 * 1024,
  pathChars: 255,
  pathDepth: 16,
  stdinBytes: 1024 * 1024,
  patchBytes: 1024 * 1024,
  envVars: 64,
  envValueChars: 4096,
  commandChars: 8192,
  argvItems: 256,
  /** archive (tar.gz) input: unpacked bytes, entries, depth, compression ratio */
  archiveBytes: 16 * 1024 * 1024,
  archiveEntries: 10_000,
  archiveDepth: 32,
  archiveRatio: 200,
  /** declared output globs */
  outputs: 32,
} as const;
