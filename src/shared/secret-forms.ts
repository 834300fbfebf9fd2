/**
 * The forms a secret takes when common encoders pass it on: literal, JSON-escaped, URL-encoded,
 * hex, and base64/base64url at each byte alignment. One list for both uses: the gateway masks
 * them in what an upstream echoes (gateway/secret-mask.ts), and the monitor looks for them in
 * what a job printed or collected (monitor/secrets.ts).
 */
const ALNUM = /^[A-Za-z0-9]$/;
/** Characters each common URL encoder leaves as they are (besides letters and digits). */
const URL_KEPT = [
  "-_.!~*'()", // JavaScript encodeURIComponent
  '-_.~', // RFC 3986 unreserved (Python quote(safe=''), Go QueryEscape)
  '-_.~/', // Python quote() default
  '', // every other character encoded
];

const pct = (c: string, upper: boolean): string =>
  [...Buffer.from(c, 'utf8')].map((b) => `%${upper ? b.toString(16).toUpperCase().padStart(2, '0') : b.toString(16).padStart(2, '0')}`).join('');

const unicodeEscape = (c: string, upper: boolean): string => {
  const hex = c.charCodeAt(0).toString(16).padStart(4, '0');
  return `\\u${upper ? hex.toUpperCase() : hex}`;
};

function urlForms(secret: string): string[] {
  const out: string[] = [];
  for (const kept of URL_KEPT) {
    for (const upper of [true, false]) {
      for (const plus of [false, true]) {
        out.push([...secret].map((c) => (ALNUM.test(c) || kept.includes(c) ? c : c === ' ' && plus ? '+' : pct(c, upper))).join(''));
      }
    }
  }
  return out;
}

function jsonForms(secret: string): string[] {
  const minimal = JSON.stringify(secret).slice(1, -1); // JavaScript, Python: only " \ and controls
  return [
    minimal,
    minimal.replaceAll('/', '\\/'), // PHP
    minimal.replace(/[<>&]/g, (c) => unicodeEscape(c, false)), // Go
    [...secret].map((c) => (ALNUM.test(c) ? c : unicodeEscape(c, false))).join(''),
    [...secret].map((c) => (ALNUM.test(c) ? c : unicodeEscape(c, true))).join(''),
  ];
}

/**
 * The characters base64 gives the secret wherever it sits in a longer encoded input: for each
 * of the three byte alignments, the run of output characters that depend on secret bytes only.
 */
function base64Forms(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  const out: string[] = [];
  for (let shift = 0; shift < 3; shift++) {
    const encoded = Buffer.concat([Buffer.alloc(shift), bytes]).toString('base64');
    const core = encoded.slice(Math.ceil((8 * shift) / 6), Math.floor((8 * (shift + bytes.length)) / 6));
    out.push(core, core.replaceAll('+', '-').replaceAll('/', '_'));
  }
  return out;
}

/** Every form of `secret` that is masked: literal, JSON-escaped, URL-encoded, hex, base64 and base64url. */
export function secretForms(secret: string): string[] {
  if (secret.length === 0) return [];
  const hex = Buffer.from(secret, 'utf8').toString('hex');
  return [...new Set([secret, ...jsonForms(secret), ...urlForms(secret), hex, hex.toUpperCase(), ...base64Forms(secret)])].filter((f) => f.length > 0);
}
