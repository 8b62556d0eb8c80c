#!/usr/bin/env node
// The `merlin` CLI (package.json "bin"): runs the TypeScript entry through tsx's loader, in this process.
import { register } from 'tsx/esm/api';

register();
const { run } = await import('../sdk/cli/main.ts');
const code = await run(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  isTTY: process.stdout.isTTY === true,
  env: process.env,
  onInterrupt: (handler) => process.once('SIGINT', handler),
});
process.exitCode = code;
