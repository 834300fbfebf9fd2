/**
 * Escape attempts (class `escape`): reaching the container engine (its socket or TCP port),
 * the host through /proc/<pid>/root, the kernel's host-wide knobs (core_pattern, sysrq,
 * cgroup release_agent, device cgroup), raw memory, device nodes, namespaces and the syscalls
 * the tripwire kills on, and the reconnaissance that picks a kernel exploit. Tripwire kills
 * themselves are `policy_violation` (assess-run.ts); a device node the kernel refused is
 * behaviour evidence (behaviour.ts).
 */
import { evidenceOf, findAll, finding, type Detector } from './detector.js';

const ENGINE =
  /\b(?:docker|containerd|crio|podman|cri-dockerd)\.sock\b|\/run\/containerd\b|:237[56]\b|\bport["']?\s{0,2}[:=]\s{0,2}237[56]\b|\b2375\s{0,2},\s{0,2}2376\b|\bDOCKER_HOST\s*=/;

export const engineAccess: Detector = {
  name: 'engine-access',
  class: 'escape',
  detect(ctx) {
    const hits = findAll(ctx.code, ENGINE);
    return hits.length === 0 ? [] : [finding(this, 'engine_access', 'high', "reaches for the container engine's API (socket or TCP port)", hits.map(evidenceOf))];
  },
};

const HOST_KERNEL =
  /\/proc\/(?:\d{1,7}|self|thread-self|\$\w+|\{\w+\}|\*)\/(?:root|cwd)\b|\brelease_agent\b|\bnotify_on_release\b|\bcore_pattern\b|\/proc\/sys\/(?:kernel\/(?:modprobe|core_\w+|sysrq|hotplug|unprivileged_\w+)|fs\/binfmt_misc|vm\/)|sysrq-trigger|\/proc\/kcore\b|\/dev\/(?:k?mem|port)\b|\bdevices\.allow\b|\/sys\/fs\/cgroup\/[^\s'"]{0,80}(?:cgroup\.procs|tasks|devices\.\w+)|\/sys\/kernel\/(?:uevent_helper|security)|\bbinfmt_misc\/register\b/;

export const hostKernel: Detector = {
  name: 'host-kernel',
  class: 'escape',
  detect(ctx) {
    const hits = findAll(ctx.code, HOST_KERNEL);
    return hits.length === 0 ? [] : [finding(this, 'host_kernel_access', 'high', "touches the host's root, kernel memory or host-wide kernel settings", hits.map(evidenceOf))];
  },
};

const NAMESPACE =
  /\bnsenter\b|\bunshare\s+-|\bchroot\s+\/|\bpivot_root\b|\bsetns\b|\bCLONE_NEW\w+|\bmount\s+-t\s|\bmount\s+-o\s|(?:libc|ctypes\.\w+)\.mount\b|\bumount2?\b|\bptrace\b|\bPTRACE_\w+|\bmemfd_create\b|\bSYS_bpf\b|\bbpf\s*\(|\bAF_VSOCK\b|\bkeyctl\b|\buserfaultfd\b|\bprocess_vm_(?:readv|writev)\b|\bkexec_\w+|\b(?:init|finit|delete)_module\b|\binsmod\b|\bmodprobe\s/;

export const namespaceEscape: Detector = {
  name: 'namespace-escape',
  class: 'escape',
  detect(ctx) {
    const hits = findAll(ctx.code, NAMESPACE);
    return hits.length === 0 ? [] : [finding(this, 'namespace_escape', 'high', 'uses namespaces, mounts, tracing or kernel interfaces the sandbox forbids', hits.map(evidenceOf))];
  },
};

const DEVICE_NODE = /\bmknod\b[^\n]{0,80}\s[bcu]\s{1,4}\d{1,4}\s{1,4}\d{1,4}|\bS_IF(?:BLK|CHR)\b|\bmakedev\s*\(|\bmknod(?:at)?\s*\([^\n]{0,80}0o?[26]\d{4}/;

export const deviceNodes: Detector = {
  name: 'device-nodes',
  class: 'escape',
  detect(ctx) {
    const hits = findAll(ctx.code, DEVICE_NODE);
    const out = hits.map(evidenceOf);
    const b = ctx.behaviour;
    if (b?.observed === true && b.deviceNodeAttempts > 0) out.unshift({ source: 'kernel', excerpt: `${b.deviceNodeAttempts} mknod of a block or character device, refused` });
    return out.length === 0 ? [] : [finding(this, 'device_node', 'high', 'creates block or character device nodes (raw access to host devices)', out)];
  },
};

const RECON =
  /\/proc\/kallsyms\b|\/proc\/modules\b|\/proc\/config\.gz\b|\/boot\/config\b|\/sys\/kernel\/(?!mm\/transparent)|\bdmesg\b|\bupperdir\b|-perm\s+[-/]?[246]000\b|\bgetcap\b|\bcapsh\b|\bCap(?:Eff|Prm|Bnd)\b|\bamicontained\b|\bdeepce\b|\blinpeas\b/;

export const kernelRecon: Detector = {
  name: 'kernel-recon',
  class: 'escape',
  detect(ctx) {
    const hits = findAll(ctx.code, RECON);
    return hits.length === 0
      ? []
      : [finding(this, 'kernel_recon', 'medium', 'gathers kernel symbols, modules, capabilities or host paths (exploit reconnaissance)', hits.map(evidenceOf))];
  },
};
