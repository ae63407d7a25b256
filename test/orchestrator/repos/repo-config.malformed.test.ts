import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_INI_FILE_BYTES, MAX_INI_SECTIONS } from '../../../orchestrator/repos/ini-file.ts';
import { loadRepoConfig, parseRepoFile } from '../../../orchestrator/repos/repo-config.ts';
import { MAX_BASEURLS, MAX_KEYS_PER_REPO, ParseError } from '../../../protocol/index.ts';
import { mutants } from '../../helpers/mutate.ts';
import { readFileSync } from 'node:fs';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ParseError);
    return (e as ParseError).code;
  }
  return undefined;
}

describe('parseRepoFile refuses malformed .repo files', () => {
  const cases: [string, string | Uint8Array, string][] = [
    ['key before any section', 'baseurl=https://x.example/\n[x]\n', 'repo-config.missing-section'],
    ['missing bracket', '[x\nbaseurl=https://x.example/\n', 'repo-config.missing-bracket'],
    ['empty section name', '[]\n', 'repo-config.empty-section'],
    ['text after section', '[x] junk here\n', 'repo-config.text-after-section'],
    ['continuation without a key', '[x]\n  https://x.example/\n', 'repo-config.continuation'],
    ['line starting with =', '[x]\n=1\n', 'repo-config.missing-key'],
    ['line without =', '[x]\nenabled\n', 'repo-config.missing-equal'],
    ['duplicate section', '[x]\nenabled=1\n[y]\n[x]\nenabled=0\n', 'repo-config.duplicate-section'],
    [
      'too many sections',
      Array.from({ length: MAX_INI_SECTIONS + 1 }, (_, i) => `[r${i}]\n`).join(''),
      'repo-config.too-many-sections',
    ],
    ['oversized file', `[x]\nname=${'x'.repeat(MAX_INI_FILE_BYTES)}\n`, 'repo-config.too-large'],
    [
      'invalid UTF-8',
      new Uint8Array([0x5b, 0x78, 0x5d, 0x0a, 0x6e, 0x3d, 0xff, 0x0a]),
      'repo-config.encoding',
    ],
    ['bad repo id', '[bad id]\n', 'repo-config.repo-id'],
    ['repo id with a slash after substitution', '[x/$releasever]\n', 'repo-config.repo-id'],
    ['bad boolean', '[x]\nenabled=maybe\n', 'repo-config.bool'],
    // libdnf: an indented line continues the value, even if it looks like a comment.
    ['indented comment after a boolean', '[x]\ngpgcheck=1\n  # not a comment\n', 'repo-config.bool'],
    ['bad duration', '[x]\nmetadata_expire=soon\n', 'repo-config.seconds'],
    ['ftp baseurl', '[x]\nbaseurl=ftp://x.example/\n', 'repo-config.url'],
    ['relative baseurl', '[x]\nbaseurl=x.example/repo\n', 'repo-config.url'],
    ['javascript metalink', '[x]\nmetalink=javascript:alert(1)\n', 'repo-config.url'],
    ['non-ASCII gpgkey', '[x]\ngpgkey=file:///etc/kéy\n', 'repo-config.url'],
    [
      'too many baseurls',
      `[x]\nbaseurl=${Array.from({ length: MAX_BASEURLS + 1 }, (_, i) => `https://m${i}.example/`).join(' ')}\n`,
      'repo-config.too-many',
    ],
    [
      'too many keys',
      `[x]\ngpgkey=${Array.from({ length: MAX_KEYS_PER_REPO + 1 }, (_, i) => `file:///k${i}`).join('\n ')}\n`,
      'repo-config.too-many',
    ],
  ];
  it.each(cases)('%s', (_name, input, code) => {
    expect(
      codeOf(() =>
        parseRepoFile(typeof input === 'string' ? enc(input) : input, 't.repo', { releasever: '4.2' }),
      ),
    ).toBe(code);
  });
});

describe('loadRepoConfig refuses', () => {
  it('a repository id defined in two files, and a missing plain path', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tmpl-repo-malformed-'));
    try {
      await writeFile(path.join(dir, 'a.repo'), '[same]\nbaseurl=https://a.example/\n');
      await writeFile(path.join(dir, 'b.repo'), '[same]\nbaseurl=https://b.example/\n');
      await expect(loadRepoConfig({ releasever: '4.2' }, [path.join(dir, '*.repo')])).rejects.toMatchObject({
        code: 'repo-config.duplicate-repo',
      });
      await expect(
        loadRepoConfig({ releasever: '4.2' }, [path.join(dir, 'missing.repo')]),
      ).rejects.toMatchObject({
        code: 'repo-config.missing-file',
      });
      await expect(
        loadRepoConfig({ releasever: '4.2' }, [path.join(dir, '*', 'x.repo')]),
      ).rejects.toMatchObject({
        code: 'repo-config.glob',
      });
      await writeFile(path.join(dir, 'bad.repo'), '[x]\nenabled=perhaps\n');
      const error: unknown = await loadRepoConfig({ releasever: '4.2' }, [path.join(dir, 'bad.repo')]).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ParseError);
      expect((error as ParseError).code).toBe('repo-config.bool');
      expect((error as ParseError).message).toContain('bad.repo');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('parseRepoFile on seeded mutations of the Qubes repo file', () => {
  it('accepts or refuses each with a repo-config.* ParseError, never anything else', () => {
    const valid = readFileSync(path.join(import.meta.dirname, 'fixtures', 'qubes-templates.repo'));
    let refused = 0;
    for (const [n, mutant] of mutants(valid, 1500, 0x1a1)) {
      try {
        parseRepoFile(mutant, 't.repo', { releasever: '4.2' });
      } catch (e) {
        expect(e, `mutant ${n}`).toBeInstanceOf(ParseError);
        expect((e as ParseError).code, `mutant ${n}`).toMatch(/^repo-config\./);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(100);
  });
});
