/** `airlock capabilities`: the capability matrix of the live configuration, as tables (or --json). */
import type { Config } from '../config.js';
import { capabilityReport } from '../root/index.js';

export async function capabilitiesCommand(config: Config, json: boolean, out: (s: string) => void): Promise<number> {
  const { matrix, text } = await capabilityReport(config);
  out(json ? JSON.stringify(matrix, null, 2) : text);
  return 0;
}
