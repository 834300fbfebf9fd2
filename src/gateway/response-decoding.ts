/**
 * The gateway asks every upstream for `Accept-Encoding: identity`, so it can mask secrets an
 * upstream echoes. One that compresses anyway is decoded here, before masking: gzip, deflate
 * and br (one coding; `identity` is ignored), inflated to at most the tool's response cap so a
 * compression bomb stops at the cap. Any other coding, or a stack of codings, is refused: the
 * gateway would pass on bytes it cannot read, and so cannot mask. The job always gets identity
 * (Content-Encoding is dropped on the way back).
 */
import { brotliDecompress, gunzip, inflate, inflateRaw, type InputType, type ZlibOptions } from 'node:zlib';

export type DecodedBody =
  { readonly kind: 'ok'; readonly body: Buffer } | { readonly kind: 'too_large'; readonly bytes: number } | { readonly kind: 'bad_response'; readonly detail: string };

type Inflate = (buf: InputType, opts: ZlibOptions, cb: (err: Error | null, out: Buffer) => void) => void;

const DECODERS: Readonly<Record<string, Inflate>> = {
  gzip: gunzip,
  'x-gzip': gunzip,
  deflate: inflate,
  br: brotliDecompress,
};

/** The codings named by every Content-Encoding header, in order, without `identity`. */
export function contentCodings(rawHeaders: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() !== 'content-encoding') continue;
    for (const token of rawHeaders[i + 1]!.split(',')) {
      const coding = token.trim().toLowerCase();
      if (coding !== '' && coding !== 'identity') out.push(coding);
    }
  }
  return out;
}

function run(decoder: Inflate, body: Buffer, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => decoder(body, { maxOutputLength: maxBytes }, (err, out) => (err === null ? resolve(out) : reject(err))));
}

export async function decodeBody(rawHeaders: readonly string[], body: Buffer, maxBytes: number): Promise<DecodedBody> {
  const codings = contentCodings(rawHeaders);
  if (codings.length === 0) return { kind: 'ok', body };
  const coding = codings[0]!;
  const decoder = DECODERS[coding];
  if (codings.length > 1 || decoder === undefined) return { kind: 'bad_response', detail: `unsupported content-encoding ${codings.join(', ').slice(0, 64)}` };
  if (body.length === 0) return { kind: 'ok', body };
  try {
    return { kind: 'ok', body: await run(decoder, body, maxBytes) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return { kind: 'too_large', bytes: maxBytes + 1 };
    // "deflate" is zlib-wrapped by the standard, raw in some servers
    if (coding === 'deflate') {
      try {
        return { kind: 'ok', body: await run(inflateRaw, body, maxBytes) };
      } catch (raw) {
        if ((raw as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return { kind: 'too_large', bytes: maxBytes + 1 };
      }
    }
    return { kind: 'bad_response', detail: `content-encoding ${coding} does not decode` };
  }
}
