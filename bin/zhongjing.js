#!/usr/bin/env node
// Entry point: the compiled CLI lives in dist/ (built by `npm install` / `npm run build`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  console.error('zhongjing: the TypeScript build is missing (dist/). Run `npm install` or `npm run build` first.');
  process.exit(1);
}
const { run } = await import(main.href);
process.exitCode = await run(process.argv.slice(2));
