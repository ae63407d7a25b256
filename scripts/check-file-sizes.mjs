#!/usr/bin/env node
// Fails (exit 1) when a source file under the given folders (default: the project's source
// folders) is longer than MAX_LINES without saying why: its opening comment must hold a sentence
// starting "Over 300 lines" (or "About 300 lines") that gives the reason. Long files are allowed;
// unexplained ones are not, so a reader knows a big file is big on purpose.
//
// Usage: node scripts/check-file-sizes.mjs [DIR|FILE...]   (run by `npm run lint`)
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const MAX_LINES = 300;
const DEFAULT_ROOTS = ['protocol', 'dispvm-worker', 'orchestrator', 'sim'];
const SKIP = new Set(['node_modules', 'dist', '.git']);
const REASON = /^\s*\*\s*(Over|About) 300 lines\b/m;

function tsFiles(entry, out) {
  const stat = statSync(entry, { throwIfNoEntry: false });
  if (!stat) return out;
  if (stat.isFile()) {
    if (entry.endsWith('.ts') && !entry.endsWith('.d.ts')) out.push(entry);
    return out;
  }
  for (const name of readdirSync(entry).sort()) if (!SKIP.has(name)) tsFiles(path.join(entry, name), out);
  return out;
}

/** The file's opening block comment (its "what and why" header), or ''. */
function header(text) {
  const match = /^\s*\/\*\*([\s\S]*?)\*\//.exec(text);
  return match ? match[1] : '';
}

const roots = process.argv.length > 2 ? process.argv.slice(2) : DEFAULT_ROOTS;
const unexplained = [];
for (const file of roots.flatMap((root) => tsFiles(root, []))) {
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
  if (lines > MAX_LINES && !REASON.test(header(text))) unexplained.push(`${file}: ${lines} lines`);
}
if (unexplained.length > 0) {
  console.error(
    `files over ${MAX_LINES} lines without a reason ("Over 300 lines: ...") in their opening comment:\n` +
      unexplained.map((line) => `  ${line}`).join('\n'),
  );
  process.exit(1);
}
