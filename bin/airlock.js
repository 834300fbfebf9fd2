#!/usr/bin/env node
// The `airlock` command. Runs the TypeScript sources through tsx, so `npx airlock …`
// works in a checkout without a build step.
import { register } from 'tsx/esm/api';

register();
const { run } = await import('../src/cli/index.ts');
process.exitCode = await run(process.argv.slice(2));
