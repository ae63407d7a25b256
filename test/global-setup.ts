/**
 * Builds the bundles once before the tests: the CLI tests, the simulator's disposables and the
 * demo run the built files (dist/), as an installed tmpl does.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  if (process.env.TMPL_SKIP_BUILD === '1') return;
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  execFileSync(process.execPath, [path.join(root, 'scripts/build.mjs'), '--bundles-only'], {
    cwd: root,
    stdio: 'inherit',
  });
}
