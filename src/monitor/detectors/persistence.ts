/**
 * Persistence and supply chain (class `persistence`), over the files a promotion would land
 * (what a patch adds, what the job collected) and over code that writes such files:
 * package-manager install hooks, Python build hooks, startup files (`.pth`, sitecustomize,
 * shell rc), scheduled tasks (cron, systemd), registries redirected elsewhere, and
 * download-and-run lines. Paths alone (CI config, git hooks, editor tasks) are the sensitive
 * path list's (sensitive-paths.ts), reported as `ci_config_change`.
 */
import type { Evidence, Finding, Severity } from '../finding.js';
import type { LandingFile, RunContext } from '../run-context.js';
import { excerptAt, findAll, finding, maxSeverity, type Detector } from './detector.js';

const FETCH_RUN =
  /\b(?:curl|wget)\b[^\n|]{0,200}\|\s{0,4}(?:sudo\s+)?(?:ba|z|da)?sh\b|\b(?:curl|wget)\b[^\n]{0,200}\s(?:-o|-O|--output)\s{0,2}\S{1,200}[^\n]{0,100}(?:chmod\s+\+?[0-7]*x|&&\s{0,2}\.?\/|;\s{0,2}\.?\/)|\bInvoke-Expression\b|\biex\s*\(|urlopen\([^\n]{0,200}\)\.read\(\)\)|\bexec\s*\(\s*(?:u\.)?urlopen/;
const LIFECYCLE = /["'](?:preinstall|install|postinstall|preprepare|prepare|postprepare|prepublish|prepublishOnly|prepack|postpack)["']\s{0,4}:\s{0,4}["']([^"'\n]{0,400})/;
/** The same, set by code: `pkg.scripts.postinstall = '…'`. */
const LIFECYCLE_SET =
  /\.scripts(?:\.|\[["'])(?:preinstall|install|postinstall|preprepare|prepare|postprepare|prepublish|prepublishOnly|prepack|postpack)(?:["']\])?\s*=\s*["'`]([^\n]{0,400})/;
const RISKY_SCRIPT = /\b(?:curl|wget|https?:|node\s+-e|eval|base64|Buffer\.from|\|\s{0,4}(?:ba)?sh\b|require\s*\(\s*["'](?:https?|child_process)|\.\/scripts?\/|\bnode\s+\S+\.js)/;
const SETUP_HOOK = /\bcmdclass\b|\bos\.system\b|\bsubprocess\b|\burlopen\b|\bexec\s*\(|\b__import__\b/;
const KNOWN_BACKEND =
  /^\s*build-backend\s*=\s*["'](?:setuptools\.build_meta(?::__legacy__)?|hatchling\.build|flit_core\.buildapi|poetry\.core\.masonry\.api|pdm\.backend|maturin|mesonpy|scikit_build_core\.build|sipbuild\.api)["']/m;
const RC_FILE = /(?:^|\/)(?:\.(?:bashrc|bash_profile|bash_login|bash_logout|profile|zshrc|zprofile|zshenv|zlogin|kshrc|cshrc|tcshrc)|config\.fish)$|(?:^|\/)profile\.d\/[^/]+$/;
const STARTUP_PY = /(?:^|\/)(?:sitecustomize|usercustomize)\.py$/;
const CRON_PATH = /(?:^|\/)(?:cron\.(?:d|daily|hourly|weekly|monthly)\/[^/]+|crontabs?(?:\/[^/]+)?|[^/]+\.cron|anacrontab)$/;
const CRON_LINE = /^\s*(?:@(?:reboot|hourly|daily|weekly|monthly|yearly)|(?:[*\d/,-]{1,20}\s+){4}[*\d/,-]{1,20})\s+\S/m;
const UNIT_PATH = /\.(?:service|timer|socket|path)$/;
const REGISTRY =
  /^\s*(?:registry|@[\w-]+:registry)\s*=\s*(?!https:\/\/registry\.npmjs\.org\/?\s*$)\S|^\s*npmRegistryServer:\s*["']?(?!https:\/\/registry\.(?:npmjs\.org|yarnpkg\.com))|^\s*(?:--)?(?:extra-)?index-url\b(?!\s*[=\s]\s*https:\/\/pypi\.org\/simple)|^\s*--(?:extra-)?index-url\b|^\s*trusted-host\b/m;
const REGISTRY_FILE =
  /(?:^|\/)(?:\.npmrc|\.yarnrc(?:\.yml)?|pip\.conf|pip\.ini|requirements[^/]*\.txt|constraints[^/]*\.txt|Pipfile|setup\.cfg|pyproject\.toml|\.pypirc|uv\.toml)$/;
const ALIAS_HIJACK = /^\s*alias\s+(?:sudo|ssh|git|ls|cd)=|PROMPT_COMMAND|LD_PRELOAD|\bPATH=\$HOME/m;

interface Plant {
  readonly kind: string;
  readonly severity: Severity;
  readonly why: string;
}

/** What landing `path` with content `text` would plant, if anything. */
export function plantOf(path: string, text: string): Plant | undefined {
  const risky = FETCH_RUN.test(text);
  const base = path.split('/').pop()!;
  if (base === 'package.json') {
    const m = LIFECYCLE.exec(text) ?? LIFECYCLE_SET.exec(text);
    if (m !== null) return { kind: 'install_hook', severity: RISKY_SCRIPT.test(m[1]!) ? 'high' : 'medium', why: 'a package.json install/prepare lifecycle script' };
  }
  if (base === 'setup.py' && SETUP_HOOK.test(text)) return { kind: 'install_hook', severity: 'high', why: 'setup.py runs code at install time' };
  if (base === 'pyproject.toml' && (/^\s*backend-path\s*=/m.test(text) || (/^\s*build-backend\s*=/m.test(text) && !KNOWN_BACKEND.test(text))))
    return { kind: 'install_hook', severity: 'high', why: 'an in-tree or unknown Python build backend' };
  if (/^(?:build\.rs|binding\.gyp)$/.test(base) && (risky || /Command::new|\bcurl\b|\bwget\b/.test(text)))
    return { kind: 'install_hook', severity: 'high', why: 'a build script that runs commands' };
  if (base.endsWith('.pth') && /^\s*import\s/m.test(text)) return { kind: 'startup_code', severity: 'high', why: 'a .pth file with an import line (runs at every Python start)' };
  if (STARTUP_PY.test(path)) return { kind: 'startup_code', severity: 'high', why: `${base} (imported at every Python start)` };
  if (RC_FILE.test(path)) return { kind: 'startup_code', severity: risky || ALIAS_HIJACK.test(text) ? 'high' : 'medium', why: 'a shell startup file' };
  if (CRON_PATH.test(path) || (!/\.(?:py|js|ts|md|txt)$/.test(path) && CRON_LINE.test(text) && /\b(?:sh|bash|curl|wget|python3?|node)\b/.test(text)))
    return { kind: 'scheduled_task', severity: 'high', why: 'a cron schedule' };
  if (UNIT_PATH.test(path) && /^\s*(?:ExecStart\w*|OnCalendar|OnBootSec|OnUnitActiveSec)\s*=/m.test(text))
    return {
      kind: 'scheduled_task',
      severity: risky || /ExecStart\w*\s*=[^\n]{0,200}(?:\bsh\s+-c|python3?\s+-c|urlopen|\bcurl\b|\bwget\b|\/tmp\/)/.test(text) ? 'high' : 'low',
      why: 'a systemd unit',
    };
  if (REGISTRY_FILE.test(path) && REGISTRY.test(text)) return { kind: 'registry_redirect', severity: 'high', why: 'package installs pointed at another registry or index' };
  if (risky) return { kind: 'fetch_and_run', severity: 'high', why: 'downloads code and runs it' };
  return undefined;
}

export const plantedFiles: Detector = {
  name: 'planted-files',
  class: 'persistence',
  detect(ctx) {
    const found = new Map<string, { severity: Severity; whys: Set<string>; evidence: Evidence[] }>();
    const add = (kind: string, severity: Severity, why: string, e: Evidence) => {
      const f = found.get(kind) ?? { severity: 'low' as Severity, whys: new Set<string>(), evidence: [] };
      f.severity = maxSeverity(f.severity, severity);
      f.whys.add(why);
      f.evidence.push(e);
      found.set(kind, f);
    };
    for (const file of ctx.landing) {
      const plant = plantOf(file.path, file.text);
      if (plant !== undefined) add(plant.kind, plant.severity, plant.why, landingEvidence(file));
    }
    for (const w of writtenFiles(ctx)) {
      const plant = plantOf(w.path, w.text);
      if (plant !== undefined) add(plant.kind, plant.severity, `${plant.why}, written by the program`, w.evidence);
    }
    const out: Finding[] = [];
    for (const [kind, f] of found) out.push({ ...finding(this, kind, f.severity, `would plant ${[...f.whys].join('; ')}`, f.evidence) });
    return out;
  },
};

function landingEvidence(file: LandingFile): Evidence {
  const risky = FETCH_RUN.exec(file.text) ?? LIFECYCLE.exec(file.text) ?? REGISTRY.exec(file.text) ?? CRON_LINE.exec(file.text);
  return { source: file.source === 'patch' ? 'patch' : 'artifact', path: file.path, excerpt: risky === null ? '(the file)' : excerptAt(file.text, risky.index) };
}

const WRITE_OP =
  /\bopen\s*\([^\n]{0,200}["'][wa]b?\+?["']|\bwrite_text\b|\bwriteFileSync\b|\bappendFileSync\b|\bwriteFile\b|\bcreateWriteStream\b|>{1,2}\s{0,2}["'$\w./]|\btee\b|\bcp\s|\binstall\s+-|\bcrontab\s+\S|\bsystemctl\s+enable\b|\.scripts\.\w+\s*=/;
const PATHISH = /^(?:\.{0,2}\/)?[\w.@+-]{1,100}(?:\/[\w.@+-]{1,100}){0,20}$/;

/**
 * Files the code writes, as far as a static reading can tell: a path literal (or a shell
 * redirect/copy target) in code that writes, with the text the code holds for it — the
 * longest literal of the same text (what it writes), or the code itself when none.
 */
function writtenFiles(ctx: RunContext): { path: string; text: string; evidence: Evidence }[] {
  const out: { path: string; text: string; evidence: Evidence }[] = [];
  for (const text of ctx.code) {
    for (const layer of text.layers) {
      if (!WRITE_OP.test(layer.text)) continue;
      const literals = [...layer.text.matchAll(/"((?:[^"\\\n]|\\.){1,4000})"|'((?:[^'\\\n]|\\.){1,4000})'|<<-?\s{0,2}['"]?(\w{1,20})['"]?\n/g)].map((m) => ({
        value: m[1] ?? m[2] ?? '',
        index: m.index,
      }));
      const targets = [
        ...layer.text.matchAll(/(?:>{1,2}|\btee\s+(?:-a\s+)?|\bmkdir\s+-p\s+|\bcp\s+\S+\s+|\bln\s+-s\w*\s+\S+\s+|\bcrontab\s+)\s{0,2}["']?([^\s"'|;&<>()]{2,300})/g),
      ].map((m) => ({ value: m[1]!, index: m.index }));
      const body = literals.reduce((a, b) => (b.value.length > a.length ? b.value : a), '').replace(/\\n/g, '\n');
      for (const c of [...literals, ...targets]) {
        const p = c.value.replace(/^\.\//, '');
        if (!PATHISH.test(p) || !/[./]/.test(p)) continue;
        const content = /\.(?:json|pth|py|service|timer|cron|conf|toml|txt|cfg|ya?ml|sh)$|rc$|profile/.test(p) ? `${body}\n${layer.text}` : layer.text;
        out.push({
          path: p,
          text: content,
          evidence: {
            source: text.source,
            ...(text.path !== undefined ? { path: text.path } : {}),
            excerpt: excerptAt(layer.text, c.index),
            ...(layer.decoded.length > 0 ? { decoded: layer.decoded } : {}),
          },
        });
      }
      break;
    }
  }
  return out.slice(0, 200);
}

/** Code that downloads and runs a second stage inside the sandbox (it has no network: intent only). */
export const fetchAndRun: Detector = {
  name: 'fetch-and-run',
  class: 'persistence',
  detect(ctx) {
    const hits = findAll(ctx.code, FETCH_RUN);
    if (hits.length === 0) return [];
    return [
      finding(
        this,
        'fetch_and_run',
        'medium',
        'code downloads a script and runs it',
        hits.map((h) => ({ source: h.text.source, ...(h.text.path !== undefined ? { path: h.text.path } : {}), excerpt: excerptAt(h.layer.text, h.index) })),
      ),
    ];
  },
};
