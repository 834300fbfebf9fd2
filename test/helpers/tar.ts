/** Reads a tar the API served: every entry's bytes by name. */
import { Readable } from 'node:stream';
import { extract } from 'tar-stream';

export async function untar(buf: Buffer): Promise<Record<string, Buffer>> {
  const out: Record<string, Buffer> = {};
  const ex = extract();
  ex.on('entry', (h, body, next) => {
    const parts: Buffer[] = [];
    body.on('data', (c: unknown) => parts.push(c as Buffer));
    body.on('end', () => {
      out[h.name] = Buffer.concat(parts);
      next();
    });
  });
  await new Promise<void>((resolve, reject) => {
    ex.on('finish', () => resolve());
    ex.on('error', reject);
    Readable.from(buf).pipe(ex);
  });
  return out;
}
