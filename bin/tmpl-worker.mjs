#!/usr/bin/env node
// The qrexec service tmpl.Worker (run in a disposable VM): frames on stdin/stdout, logs on stderr.
// Runs the built worker (dist/tmpl-worker.mjs, made by `npm run build`).
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/tmpl-worker.mjs', import.meta.url);
if (!existsSync(bundle)) {
  process.stderr.write("tmpl-worker: dist/tmpl-worker.mjs is missing: run 'npm run build' first\n");
  process.exit(2);
}
await import(bundle.href);
