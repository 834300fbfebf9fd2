/**
 * Reverse shells and exfiltration attempts (class `reverse_shell`): a shell wired to a socket,
 * data sent out, the cloud metadata service, loopback services, forged gateway requests.
 * Static: they read the code's layers (decode-layers.ts). The sandbox has no network, so none
 * of these can succeed; they are findings because of what the code meant to do.
 */
import type { Finding, Severity } from '../finding.js';
import { anyLayer, evidenceOf, findAll, finding, type Detector, type Hit } from './detector.js';

const SHELL = /\/bin\/(?:ba|z|da)?sh\b|\\?["'`](?:ba|z)?sh\\?["'`]|\b(?:ba)?sh\s+-i\b|cmd\.exe|\bpty\.spawn\b/;
const DEV_TCP = /\/dev\/(?:tcp|udp)\/[^\s/'"<>]{1,255}\/\d{1,5}/;
const INTERACTIVE = /\s-i\b|\d?>&\s{0,2}\d|<&\s{0,2}\d|\d<>|\bexec\s+\d|\bwhile\s+read\b|&>\s{0,2}\/dev\/tcp|>&\s{0,2}\/dev\/tcp/;
const WIRED_TOOLS =
  /\b(?:nc|ncat|netcat)\b[^\n|;&]{0,120}\s(?:-e|-c|--exec|--sh-exec)\s|\bsocat\b[^\n]{0,200}\b(?:exec|system):[^\n]{0,200}\btcp[46]?(?:-connect)?:|\bsocat\b[^\n]{0,200}\btcp[46]?(?:-connect)?:[^\n]{0,200}\b(?:exec|system):|\btelnet\s+\S{1,255}\s+\d{1,5}[^\n]{0,80}\|\s{0,4}(?:\/bin\/)?(?:ba)?sh\b/;
const FIFO_SHELL = /\bmkfifo\b|\bmknod\s+\S+\s+p\b/;
const PIPE_TO_SHELL = /\|\s{0,4}(?:\/bin\/)?(?:ba|z|da)?sh\b/;
const NET_TOOL = /\b(?:nc|ncat|netcat|telnet|socat)\b|openssl\s+s_client/;
const SOCKET_CONNECT =
  /\.connect\s*\(|["'](?:connect|create_connection)["']|\bcreate_connection\b|\bconnect\s*\(\s*S\s*,|\bTCPSocket\b|\bfsockopen\b|\bopen_connection\b|\bnet\.(?:connect|createConnection)\b|\bnew\s+net\.Socket\b|\btls\.connect\b/;
const WIRING =
  /\bdup2\b|\bpty\.spawn\b|stdin\s*=\s*\w+\s*,\s*stdout\s*=\s*\w+|open\s*\(\s*STD(?:IN|OUT|ERR)\s*,\s*["']>&|\bcreate_subprocess_(?:shell|exec)\b|\.pipe\s*\(\s*\w+\.stdin\b|\w+\.stdout\.pipe\s*\(/;

export const reverseShell: Detector = {
  name: 'reverse-shell',
  class: 'reverse_shell',
  detect(ctx) {
    const strong: Hit[] = [];
    const weak: Hit[] = [];
    for (const h of findAll(ctx.code, DEV_TCP)) (INTERACTIVE.test(windowAt(h)) ? strong : weak).push(h);
    strong.push(...findAll(ctx.code, WIRED_TOOLS));
    for (const h of findAll(ctx.code, FIFO_SHELL)) if (anyLayer(h.text, PIPE_TO_SHELL) && anyLayer(h.text, NET_TOOL)) strong.push(h);
    for (const h of findAll(ctx.code, SOCKET_CONNECT)) if (h.text.layers.some((l) => WIRING.test(l.text) && SHELL.test(l.text) && SOCKET_CONNECT.test(l.text))) strong.push(h);
    const severity: Severity = strong.length > 0 ? 'high' : 'low';
    const hits = strong.length > 0 ? strong : weak;
    if (hits.length === 0) return [];
    const message = strong.length > 0 ? 'a shell wired to a network connection (reverse shell)' : 'connects through /dev/tcp (no shell wired to it)';
    return [finding(this, 'reverse_shell', severity, message, hits.map(evidenceOf))];
  },
};

/** The text around a hit: the rest of its line and the one before. */
function windowAt(h: Hit): string {
  const t = h.layer.text;
  const start = t.lastIndexOf('\n', t.lastIndexOf('\n', h.index - 1) - 1) + 1;
  const end = t.indexOf('\n', h.index);
  return t.slice(start, end < 0 ? t.length : end);
}

const UPLOAD =
  /\bcurl\b[^\n]{0,200}\s(?:-d|--data(?:-binary|-raw|-urlencode)?|-F|--form|-T|--upload-file)\s{1,4}["']?[@\w][^\n]{0,40}@|\bcurl\b[^\n]{0,200}\s(?:-T|--upload-file)\s|\bwget\b[^\n]{0,200}--post-(?:file|data)\b|\bcurl\b[^\n]{0,200}(?:-d|--data(?:-binary)?)\s{1,4}["']?@/;
const DNS_EXFIL = /\b(?:nslookup|dig|host|drill)\s+[^\n]{0,80}(?:\$\(|`|\$\{?\w+\}?\.)|\bdns\.(?:resolve\w*|lookup)\s*\(\s*`[^`\n]{0,40}\$\{/;
const WHOLE_ENV =
  /(?:\bos|\))\.environ\b(?!\s*(?:\.get\b|\[|\.setdefault\b|\.pop\b|\.update\b|\.__))|\bprocess\.env\b(?!\s*(?:\.\w|\[))|(?:^|[;&|(`]|\$\()\s{0,4}(?:env|printenv)\s{0,4}(?:$|[|>;)&`])|\/proc\/[^\s/'"]{1,24}\/environ/m;
const NETWORK_SINK =
  /\burlopen\b|\brequests\.(?:post|put|get|request)\b|\bhttp\.client\b|\.send(?:to|all)?\s*\(|\bfetch\s*\(|\bhttps?\.(?:request|get)\b|\bdns\.(?:resolve\w*|lookup)\b|\bcurl\b|\bwget\b|\b(?:nc|ncat)\s+\S|\baxios\b|\bXMLHttpRequest\b/;
const SECRET_SOURCE = /\.aws\/credentials|\.ssh\/|\.npmrc|\.pypirc|\.git-credentials|\.netrc|\.kube\/config|\/run\/airlock\/token/;

export const exfiltration: Detector = {
  name: 'exfiltration',
  class: 'reverse_shell',
  detect(ctx) {
    const hits = [...findAll(ctx.code, UPLOAD), ...findAll(ctx.code, DNS_EXFIL)];
    for (const h of findAll(ctx.code, NETWORK_SINK))
      if (h.text.layers.some((l) => (WHOLE_ENV.test(l.text) || SECRET_SOURCE.test(l.text)) && NETWORK_SINK.test(l.text))) hits.push(h);
    if (hits.length === 0) return [];
    return [finding(this, 'exfiltration', 'high', 'sends files, credentials or the environment out of the sandbox', hits.map(evidenceOf))];
  },
};

const METADATA =
  /169\.254\.169\.254|169\.254\.170\.2\b|\bfd00:ec2::254\b|metadata\.google\.internal|\bmetadata\.goog\b|100\.100\.100\.200|\b2852039166\b|\b0xa9fea9fe\b|\b0251\.0376\.0251\.0376\b|::ffff:a9fe:a9fe|\binstance-data\.ec2\.internal\b/i;
const METADATA_HEADER = /Metadata-Flavor|X-aws-ec2-metadata-token|["']?\bMetadata["']?\s{0,2}:\s{0,2}["']?true\b/i;
const REQUEST_VERB =
  /\burlopen\b|\bRequest\s*\(|\brequests\.\w+\s*\(|\bfetch\s*\(|\bhttps?\s*\.\s*(?:get|request)\b|\bcurl\b|\bwget\b|Invoke-(?:WebRequest|RestMethod)|\.connect\s*\(|\bcreate_connection\b|\baxios\b/;
const GUARD_WORDS = /\bassert|\bexpect\s*\(|\bblock|\bdeny|\brefuse|\bforbid|\ballow|\bsafe|\bguard|\bBLOCK|\bDENY|\btest\s*\(|\bit\s*\(/;

export const metadataService: Detector = {
  name: 'metadata-service',
  class: 'reverse_shell',
  detect(ctx) {
    const hits = findAll(ctx.code, METADATA).filter((h) => {
      if (anyLayer(h.text, METADATA_HEADER)) return true;
      return anyLayer(h.text, REQUEST_VERB) && !GUARD_WORDS.test(lineAt(h));
    });
    const out: Finding[] = [];
    if (hits.length > 0) out.push(finding(this, 'metadata_service', 'high', 'asks a cloud metadata service for instance data or credentials', hits.map(evidenceOf)));
    const printed = findAll(ctx.output, METADATA, ['data', 'code', 'config', 'doc']);
    if (printed.length > 0 && hits.length === 0) out.push(finding(this, 'metadata_service', 'low', 'a cloud metadata address appears in the output', printed.map(evidenceOf)));
    return out;
  },
};

function lineAt(h: Hit): string {
  const t = h.layer.text;
  const end = t.indexOf('\n', h.index);
  return t.slice(t.lastIndexOf('\n', h.index - 1) + 1, end < 0 ? t.length : end);
}

const LOOPBACK = /\b127\.\d{1,3}\.\d{1,3}\.\d{1,3}\b|\blocalhost\b|\[?::1\]?|\b0\.0\.0\.0\b/;
const SERVICE_PORT_LIST =
  /\b(?:22|2375|2376|2379|3306|5432|6379|6443|8080|8500|9200|10250|11211|27017)\s{0,3},\s{0,3}(?:22|2375|2376|2379|3306|5432|6379|6443|8080|8500|9200|10250|11211|27017)\s{0,3},\s{0,3}(?:22|2375|2376|2379|3306|5432|6379|6443|8080|8500|9200|10250|11211|27017)\b/;
const SERVICE_ABUSE = /\bCONFIG["',\s]{1,8}SET\b|\bSLAVEOF\b|\bREPLICAOF\b|\bMODULE\s{1,4}LOAD\b|\bdbfilename\b|\bgopher:\/\//i;

export const loopbackProbe: Detector = {
  name: 'loopback-probe',
  class: 'reverse_shell',
  detect(ctx) {
    const hits = [...findAll(ctx.code, SERVICE_PORT_LIST), ...findAll(ctx.code, SERVICE_ABUSE)].filter((h) => anyLayer(h.text, LOOPBACK));
    if (hits.length === 0) return [];
    return [finding(this, 'loopback_probe', 'high', 'scans or drives services on loopback', hits.map(evidenceOf))];
  },
};

const GATEWAY = /gateway\.sock/;
const FORGED =
  /\b(?:GET|POST|PUT|DELETE|PATCH|HEAD|OPTIONS)\s+https?:\/\/|\bX-(?:Forwarded-Host|Original-URL|Rewrite-URL|HTTP-Method-Override|Method-Override|Host)\b|\bTrue-Client-IP\b|\/tools\/[^\s"'?]{0,200}(?:\/\.\.(?:\/|$)|%2e%2e|%2f)|\bHost:\s{0,4}(?!localhost\b)[\w.-]+\.[a-z]{2,}/i;

export const gatewayForgery: Detector = {
  name: 'gateway-forgery',
  class: 'reverse_shell',
  detect(ctx) {
    const hits = findAll(ctx.code, FORGED).filter((h) => anyLayer(h.text, GATEWAY));
    if (hits.length === 0) return [];
    return [finding(this, 'gateway_forgery', 'high', 'sends the tool gateway requests with forged targets, hosts or paths', hits.map(evidenceOf))];
  },
};
