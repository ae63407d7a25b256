#!/usr/bin/env node
// Writes docs/error-codes.md from the error catalogue (orchestrator/error-catalogue.ts), or with
// --check exits 1 when the committed file differs. The catalogue is TypeScript: tsx loads it.
import { register } from 'tsx/esm/api';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

register();
const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const { errorCodesMarkdown } = await import('../orchestrator/cli/error-list.ts');
const file = path.join(root, 'docs', 'error-codes.md');
const text = errorCodesMarkdown();
if (process.argv.includes('--check')) {
  let committed = '';
  try {
    committed = readFileSync(file, 'utf8');
  } catch {
    // a missing file differs
  }
  if (committed !== text) {
    process.stderr.write('docs/error-codes.md is out of date: run npm run errors:list\n');
    process.exit(1);
  }
} else {
  writeFileSync(file, text);
}
