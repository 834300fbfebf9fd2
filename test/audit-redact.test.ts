import { describe, expect, it } from 'vitest';
import { REDACTED, isSecretKey, redact, redactString } from '../src/audit/index.js';
import { sha256Hex } from '../src/shared/index.js';

const API_KEY = 'ak_key_Ab12Cd34_9f8e7d6c5b4a39281706f5e4d3c2b1a0';
const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';
const PEM = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIOaB1c2Hj3kqBzQ9y0w6V5y5Yq8bKXxQ0m3t4M2c4Z9a\n-----END PRIVATE KEY-----';
const AWS = 'AKIAIOSFODNN7EXAMPLE';
const GHP = 'ghp_1234567890abcdefghijklmnopqrstuvwxyzAB';
const GH_PAT = 'github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789';
const SK = 'sk-proj-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Jh1';
const HIGH_ENTROPY = 'q8Zr3VxW1pLk9TnB4mYc7HsJ2dFg6QaE';

describe('redactString', () => {
  it.each([
    ['an Airlock API key', `key=${API_KEY}`, API_KEY],
    ['an API key glued to text', `use:${API_KEY}.`, 'Ab12Cd34_9f8e7d6c5b4a'],
    ['a JWT', `jwt ${JWT}`, 'dozjgNryP4J3jVmNHl0w5N'],
    ['a base64url triple', `x ${'A'.repeat(22)}.${'b'.repeat(22)}.${'C9'.repeat(11)} y`, 'b'.repeat(22)],
    ['a PEM private key', `key:\n${PEM}\nrest`, 'MC4CAQAwBQYDK2VwBCIEIOaB1c2H'],
    ['a truncated PEM private key', `${PEM.slice(0, 60)}`, 'MC4CAQAwBQ'],
    ['an AWS access key id', `aws ${AWS} here`, AWS],
    ['a GitHub token', `GH=${GHP}`, GHP],
    ['a fine-grained GitHub token', GH_PAT, 'ABCDEFG0123456789_abcdefgh'],
    ['an sk- key', `OPENAI_API_KEY ${SK}`, 'Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Jh1'],
    ['a bearer token', 'Authorization: Bearer abcdefgh12345678', 'abcdefgh12345678'],
    ['a password in a URL', 'postgres://app:hunter2pw@db:5432/x', 'hunter2pw'],
    ['a password assignment', 'DB_PASSWORD=hunter2', 'hunter2'],
    ['a JSON-ish secret', '{"client_secret": "shh-very-quiet"}', 'shh-very-quiet'],
    ['a token query parameter', 'GET /cb?token=abc123def&x=1', 'abc123def'],
    ['a high-entropy env value', `SOME_VALUE=${HIGH_ENTROPY}`, HIGH_ENTROPY],
    ['a high-entropy value after a colon', `value: ${HIGH_ENTROPY}`, HIGH_ENTROPY],
  ])('masks %s', (_what, input, secret) => {
    const out = redactString(input);
    expect(out).not.toContain(secret);
    expect(out).toMatch(/\[redacted/);
  });

  it.each([
    ['a sha256 digest', `sha256:${'ab12'.repeat(16)}`],
    ['a code digest field', `codeDigest: ${'cd34'.repeat(16)}`],
    ['a commit hash', `commit=${'0123456789abcdef0123'.repeat(2)}`],
    ['a UUID', 'requestId: 123e4567-e89b-12d3-a456-426614174000'],
    ['a PATH', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
    ['a long path value', 'HOME_DIR=/home/someone/projects/airlock-sandboxes/builds'],
    ['a low-entropy run', `PADDING=${'a'.repeat(40)}`],
    ['a job id', 'job_AbCdEf0123456789'],
    ['plain prose', 'the job finished in 12 ms with exit code 0'],
    ['a token count', 'tokenCount: 42'],
    ['a hostname', 'api.example.com'],
  ])('leaves %s alone', (_what, input) => {
    expect(redactString(input)).toBe(input);
  });

  it('keeps the id of a real-format API key, so the record says which key leaked', () => {
    const key = `ak_0123456789abcdef_${'Zx9-_'.repeat(8)}abc`;
    expect(redactString(`AIRLOCK_KEY=${key}`)).toBe(`AIRLOCK_KEY=ak_0123456789abcdef_${REDACTED}`);
    expect(redact({ argv: [key] })).toEqual({ argv: [`ak_0123456789abcdef_${REDACTED}`] });
  });

  it('caps long strings and drops a token cut at the limit', () => {
    const long = `${'x '.repeat(2047)}y${API_KEY}`;
    const out = redactString(long);
    expect(out.length).toBeLessThan(4200);
    expect(out).toContain('[truncated');
    expect(out).not.toContain('ak_key');
  });

  // Redaction runs on attacker text (query strings, paths): its time must grow linearly with
  // the input. Quadratic work shows as a ~16x slower run on 4x the input; linear as ~4x.
  it.each([
    ['scheme-like runs (a+a+a+…)', 'a+'],
    ['dotted runs (a.a.a.…)', 'a.'],
    ['dashed word runs (a-a-a-…)', 'a-'],
    ['token prefixes (sk-sk-…)', 'sk-'],
    ['JWT starts (eyJ-eyJ-…)', 'eyJ-'],
    ['separators (x=x=x=…)', 'x='],
    ['secret names (password_password_…)', 'password_'],
    ['url parts (a://b:c:c:…)', 'a://b:c:'],
    ['auth schemes (Bearer Bearer …)', 'Bearer '],
  ])('takes linear time on %s', (_what, unit) => {
    const n = 1000;
    const small = unit.repeat(Math.ceil(n / unit.length)).slice(0, n);
    const large = unit.repeat(Math.ceil((4 * n) / unit.length)).slice(0, 4 * n);
    // CPU time, not wall time: other processes on a loaded machine do not count
    const time = (s: string) => {
      const started = process.cpuUsage();
      for (let i = 0; i < 20; i += 1) redactString(s);
      const used = process.cpuUsage(started);
      return (used.user + used.system) / 1000;
    };
    for (let i = 0; i < 5; i += 1) time(large); // warm up the JIT
    let [bestSmall, bestLarge] = [Infinity, Infinity];
    for (let i = 0; i < 9; i += 1) {
      bestSmall = Math.min(bestSmall, time(small));
      bestLarge = Math.min(bestLarge, time(large));
    }
    expect(bestLarge / bestSmall, `${bestSmall.toFixed(2)} ms for ${n} chars, ${bestLarge.toFixed(2)} ms for ${4 * n}`).toBeLessThan(8);
  });

  it('stays fast on hostile input', () => {
    const hostile = 'a-'.repeat(50_000) + '='.repeat(10_000);
    const started = performance.now();
    redactString(hostile);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe('isSecretKey', () => {
  it.each([
    'authorization',
    'Authorization',
    'x-api-key',
    'apiKey',
    'api_key',
    'API_KEY',
    'token',
    'accessToken',
    'refresh_token',
    'secret',
    'clientSecret',
    'password',
    'DB_PASSWORD',
    'cookie',
    'Set-Cookie',
    'privateKey',
    'private_key',
    'credentials',
    'key',
    'AWS_SECRET_ACCESS_KEY',
  ])('treats %s as secret', (k) => expect(isSecretKey(k)).toBe(true));
  it.each(['keyId', 'tokenId', 'credentialId', 'secretName', 'tokenCount', 'profile', 'route', 'method', 'jobId', 'monkey', 'keyboard'])('treats %s as harmless', (k) =>
    expect(isSecretKey(k)).toBe(false),
  );
});

describe('redact', () => {
  it('masks values under secret keys at any depth, case-insensitively', () => {
    const out = redact({
      headers: { Authorization: 'Basic Zm9vOmJhcg==', 'X-Api-Key': 'whatever' },
      nested: [{ PASSWORD: 'p' }, { token: { deep: 'x' } }],
    });
    expect(out).toEqual({
      headers: { Authorization: REDACTED, 'X-Api-Key': REDACTED },
      nested: [{ PASSWORD: REDACTED }, { token: REDACTED }],
    });
  });

  it('masks secret strings under harmless keys', () => {
    const out = redact({ params: { env: { GREETING: 'hi', HELPER: API_KEY }, stdin: `login ${API_KEY}\n`, argv: ['--key', API_KEY] } });
    expect(JSON.stringify(out)).not.toContain('9f8e7d6c5b4a');
    expect(out.params.env.GREETING).toBe('hi');
  });

  it('keeps ids that name secrets', () => {
    expect(redact({ keyId: 'key_abc', credentialId: 'cred_1' })).toEqual({ keyId: 'key_abc', credentialId: 'cred_1' });
  });

  it('never mutates its input', () => {
    const input = { token: 'abc', list: [API_KEY], inner: { password: 'x' } };
    const copy = structuredClone(input);
    redact(input);
    expect(input).toEqual(copy);
  });

  it('returns JSON-safe values: dates, binary, cycles, non-finite numbers, bigint', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic['self'] = cyclic;
    const out = redact({
      when: new Date(0),
      bin: Buffer.from('abc'),
      cyclic,
      nan: Number.NaN,
      big: 10n,
      fn: () => 1,
      undef: undefined,
      list: [undefined, 1],
    });
    expect(out).toEqual({
      when: '1970-01-01T00:00:00.000Z',
      bin: '[binary 3 bytes]',
      cyclic: { a: 1, self: '[circular]' },
      nan: 'NaN',
      big: '10',
      list: [null, 1],
    });
  });

  it('keeps shared (non-cyclic) references', () => {
    const shared = { x: 1 };
    expect(redact({ a: shared, b: shared })).toEqual({ a: { x: 1 }, b: { x: 1 } });
  });

  it('drops __proto__ keys', () => {
    const out = redact(JSON.parse('{"__proto__": {"polluted": true}, "ok": 1}') as Record<string, unknown>);
    expect(Object.keys(out)).toEqual(['ok']);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('passes primitives through', () => {
    expect(redact(5)).toBe(5);
    expect(redact(null)).toBeNull();
    expect(redact(true)).toBe(true);
    expect(redact('plain')).toBe('plain');
  });
});

describe('redact: structured env', () => {
  it('masks a high-entropy value under an innocuous key, as it would in NAME=value form', () => {
    const seed = 'q8Zr3VxW1pLk9TnB4mYc7HsJ2dFg6QaE';
    const digest = sha256Hex('x');
    expect(
      redact({
        env: {
          RANDOM_SEED: seed,
          GREETING: 'hello',
          LONG_PATH: '/usr/local/lib/node_modules/something-long',
          imageDigest: digest,
          BUILD_SHA256: digest,
        },
      }),
    ).toEqual({
      env: {
        RANDOM_SEED: REDACTED,
        GREETING: 'hello',
        LONG_PATH: '/usr/local/lib/node_modules/something-long',
        imageDigest: digest,
        BUILD_SHA256: digest,
      },
    });
  });
});
