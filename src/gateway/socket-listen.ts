/** Listening on a Unix socket the sandbox user can connect to. */
import { chmod, lstat, unlink } from 'node:fs/promises';
import type { Server } from 'node:http';
import { AppError } from '../shared/index.js';

/**
 * Replaces a stale socket at `socketPath` (any other file there is refused), listens, and
 * makes the socket connectable by every user (0666): the sandbox runs as another uid, so
 * access is controlled by the folder holding the socket and by what is mounted where.
 */
export async function listenOnSocket(server: Server, socketPath: string): Promise<void> {
  try {
    const info = await lstat(socketPath);
    if (!info.isSocket()) throw new AppError('INTERNAL', `gateway socket path ${socketPath} exists and is not a socket`);
    await unlink(socketPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(new AppError('INTERNAL', `gateway cannot listen on ${socketPath}`, { cause: err }));
    server.once('error', onError);
    server.listen(socketPath, () => {
      server.off('error', onError);
      resolve();
    });
  });
  await chmod(socketPath, 0o666);
}

export async function removeSocket(socketPath: string): Promise<void> {
  await unlink(socketPath).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}
