/** Reading what the sandboxed job sent: its bearer token and a body bounded by the tool's cap. */
import type { IncomingMessage } from 'node:http';
import { GatewayRefusal } from './gateway-errors.js';

export function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer +([A-Za-z0-9._~+/=-]{1,8192})\s*$/i.exec(header ?? '');
  return m?.[1];
}

/**
 * The body, or undefined once it exceeds `maxBytes` (declared by Content-Length, or actually
 * received); `counter.requestBytes` counts what was read.
 */
export function readBoundedBody(req: IncomingMessage, maxBytes: number, counter: { requestBytes: number }): Promise<Buffer | undefined> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) return Promise.resolve(undefined);
  if (req.destroyed) return Promise.reject(new GatewayRefusal('gateway_unavailable', 'the request ended early', 'client went away'));
  return new Promise<Buffer | undefined>((resolve, reject) => {
    const chunks: Buffer[] = [];
    const stop = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      counter.requestBytes += chunk.length;
      if (counter.requestBytes <= maxBytes) chunks.push(chunk);
      else {
        stop();
        resolve(undefined);
      }
    };
    const onEnd = (): void => {
      stop();
      resolve(Buffer.concat(chunks));
    };
    const onClose = (): void => {
      stop();
      reject(new GatewayRefusal('gateway_unavailable', 'the request ended early', 'client went away'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('close', onClose);
  });
}
