#!/usr/bin/env node
// Builds dist/ from the TypeScript sources:
//   dist/tmpl.mjs          the orchestrator CLI (tmpl, tmpl-install, and the cleanup guard as a
//                          mode of the same file), one ESM bundle runnable by plain node with no
//                          node_modules: its dependencies (openpgp, zod, pino, execa, p-queue)
//                          are pure JavaScript and bundled in.
//   dist/tmpl-worker.mjs   the worker (qrexec service tmpl.Worker), one bundle; the native
//                          decompression addons (zstd-napi, lzma-native) stay outside and are
//                          loaded when present, with the CLI decompressors as fallbacks.
//   dist/lib/              the library compiled by tsc, with .d.ts (package.json "exports").
//   dist/THIRD-PARTY-NOTICES.txt  the licences of everything the bundles contain.
//   dist/man/tmpl.1, dist/man/tmpl-install.1, dist/completion/tmpl.bash (and tmpl-install.bash)
//                          generated from the same option tables as --help (orchestrator/cli/docs.ts)
//                          by running those tables: bundled into a temporary script run by node.
//
// Usage: node scripts/build.mjs [--bundles-only]
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
  existsSync,
  readdirSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const bundlesOnly = process.argv.includes('--bundles-only');

/** Native addons: loaded at run time from node_modules when present, never bundled. */
const NATIVE_ADDONS = ['zstd-napi', 'lzma-native'];

// Some bundled dependencies are CommonJS and call require(); an ESM bundle has none.
const banner = [
  '#!/usr/bin/env node',
  "import { createRequire as __tmplCreateRequire } from 'node:module';",
  'const require = __tmplCreateRequire(import.meta.url);',
].join('\n');

const version = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).version;

const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  banner: { js: banner },
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
  define: { __TMPL_BUILD_VERSION__: JSON.stringify(version) },
};

function entry(source) {
  return { contents: source, resolveDir: root, sourcefile: 'entry.ts', loader: 'ts' };
}

mkdirSync(dist, { recursive: true });

const cli = await build({
  ...common,
  stdin: entry(
    [
      "import { runEntry } from './orchestrator/cli/entry.ts';",
      'process.exitCode = await runEntry(process.argv.slice(2), import.meta.url);',
    ].join('\n'),
  ),
  outfile: path.join(dist, 'tmpl.mjs'),
});
const worker = await build({
  ...common,
  stdin: entry(
    ["import { main } from './dispvm-worker/service.ts';", 'process.exitCode = await main();'].join('\n'),
  ),
  external: NATIVE_ADDONS,
  outfile: path.join(dist, 'tmpl-worker.mjs'),
});

writeFileSync(path.join(dist, 'THIRD-PARTY-NOTICES.txt'), notices([cli.metafile, worker.metafile]));

// The man pages and the completion come from the option tables themselves, so they cannot drift
// from --help: the tables are TypeScript, so a small generator is bundled (like the CLI) and run.
const docsDir = mkdtempSync(path.join(tmpdir(), 'tmpl-docs-'));
try {
  const generator = path.join(docsDir, 'generate-docs.mjs');
  await build({
    ...common,
    metafile: false,
    stdin: entry(
      [
        "import { mkdirSync, writeFileSync } from 'node:fs';",
        "import path from 'node:path';",
        "import { bashCompletion, manPage } from './orchestrator/cli/docs.ts';",
        'const out = process.argv[2];',
        "mkdirSync(path.join(out, 'man'), { recursive: true });",
        "mkdirSync(path.join(out, 'completion'), { recursive: true });",
        "for (const kind of ['tmpl', 'tmpl-install'])",
        "  writeFileSync(path.join(out, 'man', `${kind}.1`), manPage(kind));",
        '// bash-completion loads completions/NAME.bash for the command NAME: one script, both names.',
        "for (const name of ['tmpl', 'tmpl-install'])",
        "  writeFileSync(path.join(out, 'completion', `${name}.bash`), bashCompletion());",
      ].join('\n'),
    ),
    outfile: generator,
  });
  execFileSync(process.execPath, [generator, dist], { cwd: root, stdio: 'inherit' });
} finally {
  rmSync(docsDir, { recursive: true, force: true });
}

if (!bundlesOnly) {
  rmSync(path.join(dist, 'lib'), { recursive: true, force: true });
  execFileSync(
    process.execPath,
    [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
}

/** The packages whose code a bundle contains, with their licence texts. */
function notices(metafiles) {
  const packages = new Map();
  for (const meta of metafiles) {
    for (const input of Object.keys(meta.inputs)) {
      const match = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
      if (!match) continue;
      const dir = path.join(root, input.slice(0, match.index + match[0].length));
      packages.set(match[1], dir);
    }
  }
  const sections = [
    'tmpl bundles the following third-party packages. Their licences follow.',
    '',
    ...[...packages.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, dir]) => {
        const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
        const licenceFile = existsSync(dir)
          ? readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.(md|txt))?$/i.test(f))
          : undefined;
        const text = licenceFile
          ? readFileSync(path.join(dir, licenceFile), 'utf8').trim()
          : `(no licence file in the package; package.json says: ${pkg.license ?? 'unknown'})`;
        return `==== ${name} ${pkg.version} (${pkg.license ?? 'unknown'})\n\n${text}\n`;
      }),
  ];
  return sections.join('\n');
}
