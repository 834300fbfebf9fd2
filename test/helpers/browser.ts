/**
 * Headless Chromium for the browser tests: Debian's `chromium` package (scripts/setup.sh installs
 * it), driven by playwright-core — which downloads no browser of its own. Screenshots go to
 * test-output/ (ignored by git), named by the test.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { chromium, type Browser } from 'playwright-core';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

export const TEST_OUTPUT_DIR = resolve(import.meta.dirname, '../../test-output');

export function chromiumPath(): string {
  const found = [process.env['AIRLOCK_TEST_CHROMIUM'], ...CANDIDATES].find((p): p is string => p !== undefined && existsSync(p));
  if (found === undefined) throw new Error(`no Chromium at ${CANDIDATES.join(' or ')}: run npm run setup (it installs Debian's chromium)`);
  return found;
}

export async function launchBrowser(): Promise<Browser> {
  // --no-sandbox: the tests run as root, where Chromium refuses its own sandbox
  return chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
}

/** Where a screenshot of this name goes (the folder is made). */
export async function screenshotPath(folder: string, name: string): Promise<string> {
  const dir = join(TEST_OUTPUT_DIR, folder);
  await mkdir(dir, { recursive: true });
  return join(dir, `${name}.png`);
}
