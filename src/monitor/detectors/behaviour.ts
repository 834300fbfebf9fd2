/**
 * What the kernel recorded of the job's processes (the sandbox's behaviour watch), as notes
 * for the reviewer: inet socket attempts and named pipes are common in honest programs too (an
 * HTTP client that fails offline tries a DNS socket first), so alone they are `low`. They make
 * a static reverse-shell or exfiltration finding stronger (assess-run.ts adds them as its
 * kernel evidence). Device nodes are escape evidence (escape.ts).
 */
import type { Finding } from '../finding.js';
import { finding, type Detector } from './detector.js';

export const networkAttempt: Detector = {
  name: 'network-attempt',
  class: 'reverse_shell',
  detect(ctx) {
    const b = ctx.behaviour;
    if (b?.observed !== true) return [];
    const out: Finding[] = [];
    if (b.socketAttempts > 0)
      out.push(
        finding(this, 'network_attempt', 'low', `tried to open ${b.socketAttempts} inet socket(s); refused, the sandbox has no network`, [
          { source: 'kernel', excerpt: `socket(AF_INET/AF_INET6) x${b.socketAttempts}` },
        ]),
      );
    if (b.fifosMade > 0) out.push(finding(this, 'named_pipe', 'low', `made ${b.fifosMade} named pipe(s)`, [{ source: 'kernel', excerpt: `mknod(S_IFIFO) x${b.fifosMade}` }]));
    return out;
  },
};
