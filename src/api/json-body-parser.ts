/**
 * Our JSON body parser, so each failure gets its own stable code: malformed JSON, and
 * prototype-poisoning keys (`__proto__`, `constructor.prototype`), which JSON.parse keeps
 * as plain own properties that we then refuse before anything else sees them.
 */
import type { FastifyInstance } from 'fastify';
import { AppError } from '../shared/index.js';

export function registerJsonParser(app: FastifyInstance): void {
  // only JSON is accepted: every other content type is a 415
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') {
      done(new AppError('MALFORMED_JSON', 'the body is empty but the content type is application/json'), undefined);
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      done(new AppError('MALFORMED_JSON', `the body is not valid JSON: ${(err as Error).message}`), undefined);
      return;
    }
    if (hasPoisonedKey(value)) {
      done(new AppError('FORBIDDEN_KEY', 'the body contains a forbidden key (__proto__ or constructor.prototype)'), undefined);
      return;
    }
    done(null, value);
  });
}

function hasPoisonedKey(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    if (Object.prototype.hasOwnProperty.call(v, '__proto__')) return true;
    const ctor = (v as Record<string, unknown>)['constructor'];
    if (Object.prototype.hasOwnProperty.call(v, 'constructor') && ctor !== null && typeof ctor === 'object' && Object.prototype.hasOwnProperty.call(ctor, 'prototype')) return true;
    // one push per member: spreading a huge array into one call overflows the stack
    for (const member of Object.values(v as Record<string, unknown>)) stack.push(member);
  }
  return false;
}
