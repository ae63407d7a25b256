#!/usr/bin/env node
// Runs the built command line (dist/tmpl.mjs, made by `npm run build`).
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/tmpl.mjs', import.meta.url);
if (!existsSync(bundle)) {
  process.stderr.write("tmpl-install: dist/tmpl.mjs is missing: run 'npm run build' first\n");
  process.exit(2);
}
await import(bundle.href);
