/** Every detector, in the order their findings are reported. */
import { networkAttempt } from './behaviour.js';
import { credentialFiles, environmentDump, jobToken, processEnviron, secretInOutput } from './credential-theft.js';
import type { Detector } from './detector.js';
import { deviceNodes, engineAccess, hostKernel, kernelRecon, namespaceEscape } from './escape.js';
import { fetchAndRun, plantedFiles } from './persistence.js';
import { exfiltration, gatewayForgery, loopbackProbe, metadataService, reverseShell } from './reverse-shell.js';

export const DETECTORS: readonly Detector[] = [
  reverseShell,
  exfiltration,
  metadataService,
  loopbackProbe,
  gatewayForgery,
  networkAttempt,
  jobToken,
  processEnviron,
  environmentDump,
  credentialFiles,
  secretInOutput,
  plantedFiles,
  fetchAndRun,
  engineAccess,
  hostKernel,
  namespaceEscape,
  deviceNodes,
  kernelRecon,
];

export type { Detector } from './detector.js';
