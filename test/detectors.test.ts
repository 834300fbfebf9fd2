/**
 * The detectors (src/monitor/detectors), each on hostile cases of the corpus's development part
 * that it must catch and on benign look-alikes that it must leave alone (the held-out third is
 * never used here: see test/corpus/README.md), plus the decoding they rely on, the evidence they
 * give, what the kernel's records add, and their cost on hostile input.
 */
import { gzipSync, deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeLayers } from '../src/monitor/decode-layers.js';
import { foldStrings } from '../src/monitor/fold-strings.js';
import { assessRun, FindingSchema, isAlarm, type Finding, type RunFacts } from '../src/monitor/index.js';
import { loadCorpus, type CorpusCase } from './corpus/corpus.js';

const corpus = new Map(loadCorpus().map((c) => [c.name, c]));

function devCase(name: string): CorpusCase {
  const c = corpus.get(name);
  if (c === undefined) throw new Error(`no corpus case ${name}`);
  // the held-out third is never used while building or testing detectors
  expect(c.heldOut, `${name} is held out`).toBe(false);
  return c;
}

const base: RunFacts = { outcome: 'exited', stdoutTruncated: false, stderrTruncated: false, artifactPaths: [], artifactsRejected: 0 };

async function staticFindings(c: CorpusCase): Promise<Finding[]> {
  return assessRun({ ...base, ...(c.patch !== undefined ? { patch: c.patch } : {}), input: { argv: c.argv, files: c.files, env: c.env } });
}

const alarmsOf = (fs: readonly Finding[], detector: string) => fs.filter((f) => isAlarm(f) && f.detector === detector);

/** Per detector: development-part hostile cases it must raise an alarm on, and benign look-alikes it must not. */
const TABLE: Record<string, { fires: string[]; quiet: string[] }> = {
  'reverse-shell': {
    fires: [
      'rs-bash-devtcp-build-script',
      'rs-bash-devtcp-fd-loop',
      'rs-nc-exec-in-test',
      'rs-socat-pty',
      'rs-perl-socket',
      'rs-python-conftest',
      'rs-node-net-spawn',
      'rs-node-exec-devtcp',
    ],
    quiet: [
      'sh-exec-fd-redirect',
      'py-dup2-log-redirect',
      'py-pty-color-capture',
      'js-unix-socket-ipc',
      'js-spawn-shell-script',
      'py-asyncio-unix-server',
      'py-local-test-server-skip',
    ],
  },
  'reverse-shell (obfuscated)': {
    fires: [
      'rs-python-b64-exec',
      'rs-python-zlib-b64',
      'rs-python-hex-exec',
      'rs-python-rot13-exec',
      'rs-python-getattr-concat',
      'rs-node-b64-function',
      'rs-node-fromcharcode-eval',
    ],
    quiet: [
      'py-base64-image-embed',
      'py-zlib-compress-logs',
      'py-jwt-decode-fixture',
      'js-template-new-function',
      'py-getattr-plugin-dispatch',
      'py-eval-safe-calculator',
      'sh-base64-decode-fixture',
    ],
  },
  exfiltration: {
    fires: ['rs-curl-post-secrets', 'rs-node-dns-exfil', 'rs-python-udp-env-exfil', 'rs-python-requests-exfil-obf'],
    quiet: ['js-dns-lookup-localhost', 'js-fetch-offline', 'py-config-from-env', 'js-config-env-port', 'sh-curl-download-data-offline'],
  },
  'metadata-service': {
    fires: ['rs-metadata-aws-creds', 'rs-metadata-gcp-curl', 'rs-metadata-decimal-node', 'rs-metadata-azure-wget'],
    quiet: ['py-ssrf-guard', 'js-ssrf-url-validator', 'py-ipaddress-allowlist', 'patch-readme-docs', 'py-regex-log-parser'],
  },
  'loopback-probe': { fires: ['rs-loopback-api-scan', 'rs-loopback-redis-config'], quiet: ['py-local-test-server-skip', 'js-retry-fetch-tests', 'js-dns-lookup-localhost'] },
  'job-token': {
    fires: ['ct-job-token-print', 'ct-job-token-b64-shell', 'ct-job-token-obf-path', 'ct-job-token-hex-path-shell'],
    quiet: ['js-jwt-claims-check', 'py-jwt-decode-fixture', 'js-i18n-messages'],
  },
  'process-environ': { fires: ['ct-proc-environ-walk'], quiet: ['py-proc-cpuinfo-workers', 'py-home-config-reader'] },
  'environment-dump': {
    fires: ['ct-env-dump-python', 'ct-b64-exec-environ'],
    quiet: ['py-env-print-harmless', 'sh-env-defaults', 'py-crypto-hmac-sign', 'py-gcp-creds-from-env-b64', 'js-config-env-port'],
  },
  'credential-files': {
    fires: ['ct-aws-credentials-print', 'ct-kube-config-token', 'ct-npmrc-authtoken-grep', 'ct-git-credentials-xxd', 'ct-secrets-glob-walk'],
    quiet: ['py-aws-config-region', 'sh-ssh-config-lint', 'py-secret-scanner', 'py-dotenv-loader', 'py-home-config-reader'],
  },
  'planted-files': {
    fires: [
      'ps-npm-postinstall-patch',
      'ps-npm-preinstall-curl',
      'ps-npm-install-eval-b64',
      'ps-npm-prepare-rewrite',
      'ps-pth-file-patch',
      'ps-pth-obfuscated-artifact',
      'ps-crontab-artifact',
      'ps-systemd-unit-patch',
      'ps-pip-conf-artifact',
    ],
    quiet: ['py-cron-expression-parser', 'js-systemd-unit-generator', 'patch-sql-migration', 'patch-typescript-types', 'patch-new-module-and-tests-js', 'patch-dockerfile-update'],
  },
  'sensitive-paths': {
    fires: ['ps-gha-workflow-curl-sh', 'ps-husky-hook-patch', 'ps-pre-commit-config', 'ps-vscode-tasks-folderopen', 'ps-jenkinsfile-subdir'],
    quiet: ['py-git-diff-stats', 'patch-refactor-rename-many', 'patch-format-many-files'],
  },
  'engine-access': { fires: ['es-docker-sock-curl', 'es-docker-sock-obf-node', 'es-docker-tcp-node'], quiet: ['patch-dockerfile-update', 'js-os-info-report'] },
  'host-kernel': {
    fires: ['es-proc1-root', 'es-core-pattern-python', 'es-sysrq-trigger', 'es-kcore-read', 'es-cgroup-devices-allow', 'es-mountinfo-overlay-probe'],
    quiet: ['py-proc-cpuinfo-workers', 'js-os-info-report', 'sh-uname-arch-select'],
  },
  'namespace-escape': {
    fires: ['es-unshare-user-ns', 'es-mount-ctypes', 'es-bpf-ctypes', 'es-vsock-host'],
    quiet: ['js-worker-threads', 'py-threading-queue', 'py-subprocess-shell-true'],
  },
  'kernel-recon': { fires: ['es-kernel-info-recon'], quiet: ['sh-uname-arch-select', 'js-os-info-report', 'py-proc-cpuinfo-workers'] },
};

describe('detectors on the corpus (development part)', () => {
  for (const [label, { fires, quiet }] of Object.entries(TABLE)) {
    const detector = label.split(' ')[0]!;
    it(`${label}: fires on ${fires.length} hostile cases, quiet on ${quiet.length} look-alikes`, async () => {
      for (const name of fires) expect(alarmsOf(await staticFindings(devCase(name)), detector).length, `${name} should raise ${detector}`).toBeGreaterThan(0);
      for (const name of quiet) expect((await staticFindings(devCase(name))).filter(isAlarm), `${name} is benign`).toEqual([]);
    });
  }

  it('a finding names its detector, class and evidence, and parses as a stored finding', async () => {
    const [f] = alarmsOf(await staticFindings(devCase('rs-python-zlib-b64')), 'reverse-shell');
    expect(f).toMatchObject({ kind: 'reverse_shell', severity: 'high', class: 'reverse_shell' });
    expect(f!.evidence![0]).toMatchObject({ source: 'code', path: 'helpers.py', decoded: ['base64', 'zlib', 'executed'] });
    expect(FindingSchema.parse(f)).toEqual(f);
    // a finding stored before detectors existed still parses
    expect(FindingSchema.parse({ kind: 'output_truncated', severity: 'low', message: 'x' })).toEqual({ kind: 'output_truncated', severity: 'low', message: 'x' });
  });
});

describe('decoding layers', () => {
  it('folds the string expressions code hides words with', () => {
    expect(foldStrings(`m = __import__("so" + "ck" + "et")`)).toBe('m = __import__("socket")');
    expect(foldStrings(`const p = ['', 'var', 'run', ['doc', 'ker'].join('') + '.sock'].join('/');`)).toBe('const p = "/var/run/docker.sock";');
    expect(foldStrings(`p = os.path.join("/", "run", "air" + "lock", "to" + "ken")`)).toBe('p = "/run/airlock/token"');
    expect(foldStrings(`u = "nekot/kcolria/nur/"[::-1]`)).toBe('u = "/run/airlock/token"');
    expect(foldStrings(`x = "/".join(["", "proc", "1", "root"])`)).toBe('x = "/proc/1/root"');
    expect(foldStrings(`f=$(printf '\\x2f\\x70\\x72\\x6f\\x63')`)).toBe('f=$(printf "/proc")');
    expect(foldStrings(`print("don't", 'a' 'b')`)).toBe(`print("don't", "ab")`);
  });

  it('decodes base64, zlib and gzip inside it, hex, char codes and rot13, and marks what the code runs', () => {
    const payload = 'import socket; s = socket.socket()';
    const layers = (t: string) => decodeLayers(t).map((l) => ({ text: l.text, decoded: l.decoded.join('+'), executed: l.executed }));
    expect(layers(`exec(b64decode("${Buffer.from(payload).toString('base64')}"))`)).toContainEqual({ text: payload, decoded: 'base64', executed: true });
    expect(layers(`exec(zlib.decompress(b64decode("${deflateSync(payload).toString('base64')}")))`)).toContainEqual({ text: payload, decoded: 'base64+zlib', executed: true });
    expect(layers(`x = "${gzipSync(payload).toString('base64')}"`)).toContainEqual({ text: payload, decoded: 'base64+zlib', executed: false });
    expect(layers(`exec(bytes.fromhex("${Buffer.from(payload).toString('hex')}"))`)).toContainEqual({ text: payload, decoded: 'hex', executed: true });
    expect(layers(`eval(String.fromCharCode(${[...payload].map((c) => c.charCodeAt(0)).join(',')}))`)).toContainEqual({ text: payload, decoded: 'charcodes', executed: true });
    expect(layers(`exec(codecs.decode('vzcbeg fbpxrg', 'rot13'))`).some((l) => l.decoded === 'rot13' && l.text.includes('import socket'))).toBe(true);
    // random bytes (a digest, an image) are not a layer
    expect(layers(`digest = "${Buffer.from(Array.from({ length: 48 }, (_, i) => (i * 97) % 256)).toString('base64')}"`).filter((l) => l.decoded.includes('base64'))).toEqual([]);
  });

  it('stays cheap on hostile input: 1 MiB of quotes, spaces, base64 and hex in well under a few seconds of CPU', async () => {
    const nasty = ['"a"' + ' '.repeat(4000), "'" + 'x'.repeat(5000), 'QUJD'.repeat(20000), 'ab'.repeat(30000), '1,'.repeat(20000), '"' + '\\'.repeat(9000)]
      .join('\n')
      .repeat(4)
      .slice(0, 1024 * 1024);
    const before = process.cpuUsage();
    await assessRun({ ...base, input: { argv: ['python3', 'main.py'], files: [{ path: 'main.py', content: nasty }], env: {} }, stdout: Buffer.from(nasty) });
    const used = process.cpuUsage(before);
    expect((used.user + used.system) / 1e6).toBeLessThan(10);
  });
});

describe('evidence from what the run left and what the kernel recorded', () => {
  const secret = 'je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY';
  const input = { argv: ['python3', 'main.py'], files: [{ path: 'main.py', content: 'print("report")\n' }], env: { AWS_SECRET_ACCESS_KEY: secret } };

  it('a secret of the environment printed in any common encoding is a high credential-theft finding that never repeats the value', async () => {
    for (const printed of [secret, Buffer.from(`{"k": "${secret}"}`).toString('base64'), Buffer.from(secret).toString('hex'), [...secret].reverse().join('')]) {
      const findings = await assessRun({ ...base, input, stdout: Buffer.from(`ok\n${printed}\n`) });
      const [f] = alarmsOf(findings, 'secret-in-output');
      expect(f, printed).toMatchObject({ kind: 'secret_in_output', severity: 'high', class: 'credential_theft' });
      expect(JSON.stringify(f)).not.toContain(secret);
      expect(f!.evidence![0]!.excerpt).toContain('AWS_SECRET_ACCESS_KEY');
    }
    expect(alarmsOf(await assessRun({ ...base, input, stdout: Buffer.from('ok\n') }), 'secret-in-output')).toEqual([]);
  });

  it('a credential file of the input tree copied into an artifact is found there', async () => {
    const creds = '[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n';
    const findings = await assessRun({
      ...base,
      input: {
        argv: ['sh', 'main.sh'],
        files: [
          { path: 'main.sh', content: 'mkdir -p dist\n' },
          { path: '.aws/credentials', content: creds },
        ],
        env: {},
      },
      artifactPaths: ['dist/NOTICE.txt'],
      artifacts: [{ path: 'dist/NOTICE.txt', content: Buffer.from(creds) }],
    });
    expect(alarmsOf(findings, 'secret-in-output')[0]!.evidence![0]).toMatchObject({ source: 'artifact', path: 'dist/NOTICE.txt' });
  });

  it('socket attempts alone are a note; they back a static reverse-shell finding; a device node is an escape', async () => {
    const behaviour = { observed: true as const, socketAttempts: 3, deviceNodeAttempts: 0, fifosMade: 0 };
    const offline = await assessRun({ ...base, input, behaviour });
    expect(offline.filter(isAlarm)).toEqual([]);
    expect(offline.find((f) => f.kind === 'network_attempt')).toMatchObject({ severity: 'low', class: 'reverse_shell' });
    const shell = devCase('rs-bash-devtcp-build-script');
    const backed = alarmsOf(await assessRun({ ...base, input: { argv: shell.argv, files: shell.files, env: {} }, behaviour }), 'reverse-shell');
    expect(backed[0]!.evidence![0]).toMatchObject({ source: 'kernel' });
    const device = await assessRun({ ...base, input, behaviour: { ...behaviour, socketAttempts: 0, deviceNodeAttempts: 1 } });
    expect(alarmsOf(device, 'device-nodes')[0]).toMatchObject({ severity: 'high', class: 'escape', evidence: [{ source: 'kernel' }] });
  });

  it('a tripwire kill is a high escape finding with the syscall as kernel evidence', async () => {
    const [f] = await assessRun({ ...base, outcome: 'policy_violation', violation: { syscall: 'ptrace', verified: true } });
    expect(f).toMatchObject({
      kind: 'policy_violation',
      severity: 'high',
      detector: 'tripwire',
      class: 'escape',
      evidence: [{ source: 'kernel', excerpt: 'seccomp kill: ptrace' }],
    });
  });
});
