/** `tmpl clean` removes package files and partial downloads from the cache, nothing else. */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  cachedPackages,
  defaultCacheDir,
  removeCachedPackages,
} from '../../../orchestrator/transaction/package-cache.ts';

describe('package cache', () => {
  it('selects .rpm and .rpm.part names only', () => {
    expect(cachedPackages(['a.rpm', 'b.rpm.part', 'rpm', 'c.rpmnew', 'notes.txt'])).toEqual([
      'a.rpm',
      'b.rpm.part',
    ]);
  });

  it('removes them from the directory and leaves the rest; a missing directory is empty', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tmpl-cache-'));
    try {
      for (const name of ['a.rpm', 'b.rpm.part', 'keep.txt']) await writeFile(path.join(dir, name), 'x');
      expect((await removeCachedPackages(dir)).sort()).toEqual(['a.rpm', 'b.rpm.part']);
      expect(await readdir(dir)).toEqual(['keep.txt']);
      expect(await removeCachedPackages(path.join(dir, 'missing'))).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("is qvm-template's cache under XDG_CACHE_HOME", () => {
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/c' })).toBe('/c/qvm-template');
  });
});
