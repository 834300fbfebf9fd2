import { describe, expect, it } from 'vitest';
import { DEFAULT_FORWARD_HEADERS, ToolGateway, parseTools, resolveToolSecrets, type Tool } from '../src/gateway/index.js';
import { pathSegments, prefixSegments, splitTarget, withinPrefixes } from '../src/gateway/request-target.js';
import { AppError } from '../src/shared/index.js';
import { configError } from './helpers/config-error.js';

const good = { name: 'staging', type: 'http', origin: 'https://staging.example.com', methods: ['GET'], pathPrefixes: ['/fixtures/'] };

describe('tool configuration', () => {
  it('applies defaults', () => {
    const [tool] = parseTools([good]);
    expect(tool).toEqual({
      ...good,
      injectHeaders: {},
      forwardHeaders: [...DEFAULT_FORWARD_HEADERS],
      maxRequestBytes: 1024 * 1024,
      maxResponseBytes: 4 * 1024 * 1024,
      timeoutMs: 10_000,
    });
    expect(parseTools([{ ...good, origin: 'http://127.0.0.1:8081' }])[0]!.origin).toBe('http://127.0.0.1:8081');
  });

  it('names the tool and the field of every problem, all at once', () => {
    const message = configError(() =>
      parseTools([
        { ...good, origin: 'https://staging.example.com/api' },
        { ...good, name: 'plain-http', origin: 'http://staging.example.com' },
        { ...good, name: 'verbs', methods: ['GET', 'TRACE'] },
        { ...good, name: 'prefixes', pathPrefixes: ['fixtures/', '/a/../b', '/a//b', '/%2e%2e/'] },
        { ...good, name: 'headers', injectHeaders: { Host: { secret: 'X_KEY' }, 'X-Ok': { value: 'literal' } } },
        { ...good, name: 'caps', maxResponseBytes: 0, timeoutMs: 10 },
        { ...good, name: 'extra', followRedirects: true },
        { ...good, name: 'Bad Name' },
        good,
      ]),
    );
    expect(message).toContain('tool "staging": origin: must be an exact origin');
    expect(message).toContain('tool "plain-http": origin:');
    expect(message).toContain('tool "verbs": methods.1:');
    for (const i of [0, 1, 2, 3]) expect(message).toContain(`tool "prefixes": pathPrefixes.${i}:`);
    expect(message).toContain('tool "headers": injectHeaders.Host: is a header the gateway sets itself');
    expect(message).toContain('tool "headers": injectHeaders.X-Ok:');
    expect(message).toContain('tool "caps": maxResponseBytes:');
    expect(message).toContain('tool "caps": timeoutMs:');
    expect(message).toContain('tool "extra": (tool): Unrecognized key: "followRedirects"');
    expect(message).toContain('tool "Bad Name": name:');
    expect(message).toContain('tool "staging": name: defined more than once');
    expect(configError(() => parseTools({ tools: [] }))).toContain('JSON array');
  });

  it('refuses a tool that lists an override, credential or framing header to forward, naming the tool and the header', () => {
    const overrides = ['X-HTTP-Method-Override', 'X-Method-Override', 'X-Original-URL', 'X-Rewrite-URL', 'X-Host', 'True-Client-IP', 'X-Forwarded-For', 'Forwarded'];
    const message = configError(() =>
      parseTools([
        { ...good, forwardHeaders: ['Accept', ...overrides] },
        { ...good, name: 'owned', forwardHeaders: ['Authorization', 'cookie', 'Host', 'Content-Length', 'Transfer-Encoding', 'Proxy-Authorization'] },
        { ...good, name: 'bad-name', forwardHeaders: ['X Bad'] },
      ]),
    );
    overrides.forEach((h, i) => expect(message).toContain(`tool "staging": forwardHeaders.${i + 1}: ${h} is a method, URL, host or client override and is never forwarded`));
    for (const h of ['Authorization', 'cookie', 'Host', 'Content-Length', 'Transfer-Encoding']) expect(message).toContain(`${h} is set or stripped by the gateway`);
    expect(message).toContain('tool "owned": forwardHeaders.5: Proxy-Authorization is a method, URL, host or client override');
    expect(message).toContain('tool "bad-name": forwardHeaders.0: must be an HTTP header name');
    expect(message).not.toContain('forwardHeaders.0: Accept');
    expect(parseTools([{ ...good, forwardHeaders: ['Accept', 'X-Trace-Id', 'accept'] }])[0]!.forwardHeaders).toEqual(['accept', 'x-trace-id']);
  });

  it('resolves every injected secret at start-up and names missing ones without any value', () => {
    const tools: Tool[] = parseTools([
      { ...good, injectHeaders: { 'X-Api-Key': { secret: 'STAGING_KEY' }, Authorization: { secret: 'STAGING_TOKEN', prefix: 'Bearer ' } } },
      { ...good, name: 'short', injectHeaders: { 'X-Api-Key': { secret: 'SHORT_KEY' } } },
      { ...good, name: 'newline', injectHeaders: { 'X-Api-Key': { secret: 'NL_KEY' } } },
    ]);
    const secrets: Record<string, string> = { STAGING_KEY: 'k-1234567890', SHORT_KEY: 'abc', NL_KEY: 'abcdefgh\r\nX-Evil: 1' };
    const message = configError(() => resolveToolSecrets(tools, (n) => secrets[n]));
    expect(message).toContain('tool "staging": injectHeaders.Authorization: secret STAGING_TOKEN is not set');
    expect(message).toContain('tool "short": injectHeaders.X-Api-Key: secret SHORT_KEY is shorter than 8 characters');
    expect(message).toContain('tool "newline": injectHeaders.X-Api-Key: secret NL_KEY must be printable ASCII');
    for (const value of Object.values(secrets)) expect(message).not.toContain(value);
    expect(
      () => new ToolGateway({ jobId: 'job_x1234567', verifier: { verify: () => Promise.reject(new Error('unused')) }, tools, resolveSecret: (n) => secrets[n], onCall: () => {} }),
    ).toThrow(AppError);

    secrets['STAGING_TOKEN'] = 'tok-abcdefghij';
    const resolved = resolveToolSecrets(tools.slice(0, 1), (n) => secrets[n]);
    expect(resolved.get('staging')?.get('authorization')?.value).toBe('Bearer tok-abcdefghij');
    expect(resolved.get('staging')?.get('x-api-key')?.value).toBe('k-1234567890');
  });
});

describe('request targets', () => {
  it('splits tool, path and query', () => {
    expect(splitTarget('/tools/staging/fixtures/a?b=1')).toEqual({ toolName: 'staging', path: '/fixtures/a', query: '?b=1' });
    expect(splitTarget('/tools/staging')).toEqual({ toolName: 'staging', path: '/', query: '' });
    expect(splitTarget('/tools/')).toBeUndefined();
    expect(splitTarget('/other/staging/x')).toBeUndefined();
    expect(splitTarget('http://evil/tools/staging/x')).toBeUndefined();
  });

  it('refuses ambiguous paths instead of normalizing them', () => {
    for (const p of ['/a/../b', '/a/%2e%2e/b', '/a/%2E./b', '/a/./b', '/a/..;x/b', '/a//b', '/a\\b', '/a/%5cb', '/a/%2fb', '/a/%252e%252e/b', '/a/%00', '/a/%zz', '/a#b']) {
      expect(pathSegments(p), p).toHaveProperty('refused');
    }
    expect(pathSegments('/a/b%20c/')).toEqual({ segments: ['a', 'b c', ''] });
  });

  it('compares prefixes on whole segments', () => {
    const seg = (p: string) => (pathSegments(p) as { segments: string[] }).segments;
    expect(withinPrefixes(seg('/fixtures/a.json'), ['/fixtures/'])).toBe(true);
    expect(withinPrefixes(seg('/fixtures'), ['/fixtures/'])).toBe(true);
    expect(withinPrefixes(seg('/fixtures-x/a'), ['/fixtures/'])).toBe(false);
    expect(withinPrefixes(seg('/fixturesx'), ['/fixtures'])).toBe(false);
    expect(withinPrefixes(seg('/a/b/c'), ['/x/', '/a/b'])).toBe(true);
    expect(withinPrefixes(seg('/a/'), ['/a/b/'])).toBe(false);
    expect(withinPrefixes(seg('/anything'), ['/'])).toBe(true);
    expect(prefixSegments('/a/../b')).toBeUndefined();
    expect(prefixSegments('/a/b/')).toEqual(['a', 'b']);
  });
});
