/**
 * The secret values a run could reach — from its environment, from credential files in its
 * input tree, and the credentials Airlock gave it — and where one of them turns up in what the
 * run printed or collected, in any form a common encoder gives it (shared/secret-forms).
 */
import { isSecretKey } from '../shared/index.js';
import { secretForms } from '../shared/secret-forms.js';

export interface SecretValue {
  /** Names the secret without its value, e.g. `AWS_SECRET_ACCESS_KEY (environment)`. */
  readonly name: string;
  readonly origin: 'env' | 'file' | 'credential';
  readonly value: string;
}

const MIN_SECRET_CHARS = 8;
/** Well-known token formats: a value shaped like one is a secret whatever its name. */
const TOKEN_FORMAT =
  /^(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,}|npm_[A-Za-z0-9]{20,}|xox[abpr]-[\w-]{10,}|(?:AKIA|ASIA)[0-9A-Z]{16}|sk_(?:live|test)_\w{10,}|pypi-[\w-]{20,}|glpat-[\w-]{16,}|eyJ[\w-]{10,}\.[\w-]{10,}\.[\w-]*)$/;
const SECRET_NAME_TAIL = /(?:^|_)(?:KEY|PASS|PWD|DSN|AUTH)$/i;
const URL_PASSWORD = /[a-z][a-z0-9+.-]{1,20}:\/\/[^\s:/@]{1,128}:([^\s@/]{4,256})@/gi;

/** Paths in an input tree that hold credentials by convention. */
export const CREDENTIAL_FILE =
  /(?:^|\/)(?:\.aws\/credentials|\.ssh\/(?!.*\.pub$)(?:id_[^/]+|[^/]*\.pem|[^/]*key[^/]*)|\.npmrc|\.pypirc|\.git-credentials|\.netrc|\.kube\/config|\.docker\/config\.json|\.config\/gcloud\/[^/]+\.json|\.env)$/;

export function envSecrets(env: Readonly<Record<string, string>>): SecretValue[] {
  const out: SecretValue[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (value.length < MIN_SECRET_CHARS) continue;
    if (isSecretKey(name) || SECRET_NAME_TAIL.test(name) || TOKEN_FORMAT.test(value)) out.push({ name: `${name} (environment)`, origin: 'env', value });
    for (const m of value.matchAll(URL_PASSWORD)) out.push({ name: `the password in ${name} (environment)`, origin: 'env', value: m[1]! });
  }
  return out;
}

const ASSIGNMENT = /^\s*["']?([\w.-]{2,64})["']?\s*[:=]\s*["']?([^\s"',]{8,512})/;

/** Secrets in the input tree's credential files: key/token/password values, private keys, URL passwords. */
export function fileSecrets(files: ReadonlyMap<string, string>): SecretValue[] {
  const out: SecretValue[] = [];
  for (const [path, text] of files) {
    if (!CREDENTIAL_FILE.test(path)) continue;
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(line)) {
        const body = lines[i + 1]?.trim() ?? '';
        if (body.length >= 20) out.push({ name: `the private key in ${path}`, origin: 'file', value: body });
        continue;
      }
      const a = ASSIGNMENT.exec(line);
      if (a !== null && (isSecretKey(a[1]!) || /(?:_authToken|_auth|auth|password|passwd|token)$/i.test(a[1]!)))
        out.push({ name: `${a[1]} in ${path}`, origin: 'file', value: a[2]! });
      const token = /(?:_authToken|_auth|_password)\s*=\s*["']?([^\s"']{8,})/.exec(line);
      if (token !== null) out.push({ name: `a registry token in ${path}`, origin: 'file', value: token[1]! });
      const netrc = /\bpassword\s+(\S{8,})/.exec(line);
      if (netrc !== null) out.push({ name: `a password in ${path}`, origin: 'file', value: netrc[1]! });
      for (const m of line.matchAll(URL_PASSWORD)) out.push({ name: `a URL password in ${path}`, origin: 'file', value: m[1]! });
    }
  }
  return out;
}

/** Whether `text` holds a secret value of `file`'s (the file is known to carry credentials). */
export function holdsSecrets(path: string, text: string): boolean {
  return fileSecrets(new Map([[path, text]])).length > 0;
}

/** The form of `secret` found in `text`, if any: `literal`, `reversed`, or an encoding. */
export function secretFormIn(secret: string, text: string): string | undefined {
  if (secret.length < MIN_SECRET_CHARS) return undefined;
  if (text.includes(secret)) return 'literal';
  if (text.includes([...secret].reverse().join(''))) return 'reversed';
  const forms = secretForms(secret);
  const hex = Buffer.from(secret).toString('hex');
  for (const f of forms)
    if (f.length >= MIN_SECRET_CHARS && text.includes(f)) return f === hex || f === hex.toUpperCase() ? 'hex' : /^[A-Za-z0-9+/_-]+$/.test(f) ? 'base64' : 'escaped';
  return undefined;
}
