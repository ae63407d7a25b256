/**
 * tmpl's version: set by the build (scripts/build.mjs defines __TMPL_BUILD_VERSION__ from
 * package.json), else read from package.json beside the sources.
 */
import { readFileSync } from 'node:fs';

declare const __TMPL_BUILD_VERSION__: string | undefined;

export function tmplVersion(): string {
  if (typeof __TMPL_BUILD_VERSION__ === 'string') return __TMPL_BUILD_VERSION__;
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}
