// The files of node_modules the worker's native addons need at run time, for the tmpl-worker
// package: found by loading the addons as the worker does (zstd-napi's binding, lzma-native with
// its JavaScript stream wrapper) in a child node and reading what it loaded. Each package that
// was touched contributes its package.json, its licence and notice files, the addon binaries
// that were loaded (linux-x64 only) and the JavaScript modules of each directory a module was
// loaded from (so modules loaded lazily come too), but no script with a #! line (they would add
// Requires), no browser builds, and nothing from directories the addons never load from.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const TRACE = `
const { createRequire } = require('node:module');
const requireHere = createRequire(process.cwd() + '/dist/tmpl-worker.mjs');
const zstd = requireHere('zstd-napi/binding');
new zstd.DCtx();
const lzma = requireHere('lzma-native');
lzma.createStream('streamDecoder', { memlimit: 1 << 20 }).destroy();
process.stdout.write(JSON.stringify(Object.keys(require.cache)));
`;

const KEPT_DOCS = /^(licen[cs]e|notice|copying)(\.(md|txt))?$/i;

/** [{ relative: 'node_modules/PKG/FILE', mode }] sorted by path. */
export function addonRuntimeFiles(root) {
  const loaded = JSON.parse(execFileSync(process.execPath, ['-e', TRACE], { cwd: root, encoding: 'utf8' }));
  const modules = path.join(root, 'node_modules');
  const files = new Map();
  const packages = new Set();
  /** Directories a JavaScript module was loaded from, 'PKG/' or 'PKG/DIR/'. */
  const dirs = new Set();
  for (const file of loaded) {
    const relative = path.relative(modules, file);
    if (relative.startsWith('..')) continue;
    const parts = relative.split(path.sep);
    const name = parts[0].startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
    packages.add(name);
    if (file.endsWith('.node')) files.set(`node_modules/${relative}`, 0o755);
    else dirs.add(`${path.posix.dirname(relative.split(path.sep).join('/'))}/`);
  }
  for (const name of packages) {
    const dir = path.join(modules, name);
    for (const entry of readdirSync(dir)) {
      if (entry === 'package.json' || KEPT_DOCS.test(entry))
        files.set(`node_modules/${name}/${entry}`, 0o644);
    }
  }
  for (const dir of dirs) {
    for (const entry of readdirSync(path.join(modules, dir), { withFileTypes: true })) {
      const file = path.join(modules, dir, entry.name);
      if (!entry.isFile() || !/\.c?js$/.test(entry.name) || /browser/i.test(entry.name)) continue;
      if (statSync(file).size > 0 && !isScript(file)) files.set(`node_modules/${dir}${entry.name}`, 0o644);
    }
  }
  return [...files.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([relative, mode]) => ({ relative, mode }));
}

function isScript(file) {
  return readFileSync(file).subarray(0, 2).toString('latin1') === '#!';
}
