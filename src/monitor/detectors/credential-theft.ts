/**
 * Credential theft (class `credential_theft`): the job's own token read outside the gateway
 * client, other processes' environments, the environment dumped while it holds secrets,
 * credential files of the input tree read (worse when printed, encoded or written out), and,
 * from what the run left, a secret it could reach showing up in its output or artifacts.
 */
import type { Evidence } from '../finding.js';
import { CREDENTIAL_FILE, holdsSecrets, secretFormIn } from '../secrets.js';
import { anyLayer, evidenceOf, findAll, finding, type Detector, type Hit } from './detector.js';

const JOB_TOKEN = /\/run\/airlock\/token\b/;
const GATEWAY = /gateway\.sock/;

export const jobToken: Detector = {
  name: 'job-token',
  class: 'credential_theft',
  detect(ctx) {
    const hits = findAll(ctx.code, JOB_TOKEN);
    if (hits.length === 0 || ctx.code.some((t) => anyLayer(t, GATEWAY))) return [];
    return [finding(this, 'job_token_access', 'high', "reads the job's tool credential without ever calling the gateway", hits.map(evidenceOf))];
  },
};

const PROC_ENVIRON = /\/proc\/(?!self\/)[^\s/'"]{1,24}\/environ|["']\/proc\/["']\s{0,4}\+[^\n]{0,60}["']\/environ["']/;

export const processEnviron: Detector = {
  name: 'process-environ',
  class: 'credential_theft',
  detect(ctx) {
    const hits = findAll(ctx.code, PROC_ENVIRON);
    if (hits.length === 0) return [];
    return [finding(this, 'process_environ', 'high', "reads other processes' environments through /proc", hits.map(evidenceOf))];
  },
};

const ENV_DUMP =
  /(?:\bos|\))\.environ\b(?!\s*(?:\.get\b|\[|\.setdefault\b|\.pop\b|\.update\b|\.__))|\bprocess\.env\b(?!\s*(?:\.\w|\[))|(?:^|[;&|(`{]|\$\()\s{0,4}(?:env|printenv|export\s+-p|declare\s+-x)\s{0,4}(?:$|[|>;)&`}])|\/proc\/self\/environ/m;
const FILTERED = /\b(?:env|printenv)\s{0,4}\|\s{0,4}grep\s+(?:-\w+\s+)?["']?\^?[A-Z][A-Z0-9_]{0,30}_?["']?\s/;
const SECRET_FILTER = /TOKEN|KEY|SECRET|PASS|AUTH|CRED/i;

export const environmentDump: Detector = {
  name: 'environment-dump',
  class: 'credential_theft',
  detect(ctx) {
    const envSecrets = ctx.secrets.filter((s) => s.origin === 'env');
    if (envSecrets.length === 0) return [];
    const hits = findAll(ctx.code, ENV_DUMP).filter((h) => {
      const line = lineOf(h);
      return !(FILTERED.test(line) && !SECRET_FILTER.test(line));
    });
    if (hits.length === 0) return [];
    const names = envSecrets.map((s) => s.name.replace(/ \(environment\)$/, '')).slice(0, 5);
    return [finding(this, 'environment_dump', 'high', `dumps the whole environment, which holds ${names.join(', ')}`, hits.map(evidenceOf))];
  },
};

function lineOf(h: Hit): string {
  const t = h.layer.text;
  const end = t.indexOf('\n', h.index);
  return `${t.slice(t.lastIndexOf('\n', h.index - 1) + 1, end < 0 ? t.length : end)} `;
}

const CREDENTIAL_PATH =
  /\.ssh\/(?:id_\w+|\*|[\w.-]*key\b)|\bid_(?:rsa|ed25519|ecdsa|dsa)\b|\.aws\/(?:credentials\b|\*)|\.kube\/config\b|\.kube["']\s{0,2},\s{0,2}["']config\b|(?:^|[\s/'"~(|])\.npmrc\b|\.pypirc\b|\.git-credentials\b|(?:^|[\s/'"~(])\.netrc\b|\.docker\/config\.json\b|\.config\/gcloud\b|\.azure\/(?:accessTokens|msal)/m;
const SINK =
  /\bprint\s*\(|\bconsole\.\w+\s*\(|\becho\b|\bcat\b|\bhead\b|\btail\b|\bgrep\b|\bbase64\b|\bxxd\b|\bod\b|\bhexdump\b|\brev\b|\.hex\s*\(|b64encode|toString\s*\(\s*["'](?:base64|hex)|\.write\s*\(|write_text|writeFileSync|\bcp\s|\bcopy\w*\s*\(|\bcurl\b|\bwget\b|\burlopen\b|\bfetch\s*\(/;

export const credentialFiles: Detector = {
  name: 'credential-files',
  class: 'credential_theft',
  detect(ctx) {
    const hits = findAll(ctx.code, CREDENTIAL_PATH);
    if (hits.length === 0) return [];
    // a credential file the input tree has without any secret in it (a registry-only .npmrc) is configuration
    const named = (h: Hit) => [...ctx.inputFiles.keys()].filter((p) => CREDENTIAL_FILE.test(p) && h.match.replace(/["'\s,~(|]/g, '').includes(p.split('/').slice(-1)[0]!));
    const relevant = hits.filter((h) => {
      const files = named(h);
      return files.length === 0 || files.some((p) => holdsSecrets(p, ctx.inputFiles.get(p)!));
    });
    if (relevant.length === 0) return [];
    const out = relevant.filter((h) => anyLayer(h.text, SINK));
    const severity = out.length > 0 ? 'high' : 'medium';
    const message = out.length > 0 ? 'reads credential files (keys, tokens) and prints, encodes or writes them' : 'reads credential files (keys, tokens)';
    return [finding(this, 'credential_file_access', severity, message, (out.length > 0 ? out : relevant).map(evidenceOf))];
  },
};

export const secretInOutput: Detector = {
  name: 'secret-in-output',
  class: 'credential_theft',
  detect(ctx) {
    const evidence: Evidence[] = [];
    for (const secret of ctx.secrets) {
      for (const text of ctx.output) {
        for (const layer of text.layers) {
          const form = secretFormIn(secret.value, layer.text);
          if (form === undefined) continue;
          evidence.push({
            source: text.source,
            ...(text.path !== undefined ? { path: text.path } : {}),
            excerpt: `${secret.name}, ${form}`,
            ...(layer.decoded.length > 0 ? { decoded: layer.decoded } : {}),
          });
          break;
        }
      }
    }
    if (evidence.length === 0) return [];
    return [finding(this, 'secret_in_output', 'high', 'a secret the job could reach is in its output or artifacts', evidence)];
  },
};
