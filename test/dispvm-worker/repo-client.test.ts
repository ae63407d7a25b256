import { describe, expect, it } from 'vitest';
import { joinUrl, parseMirrorlist, substituteVariables } from '../../dispvm-worker/repo-client.ts';

describe('repository helpers', () => {
  it('substitutes dnf variables', () => {
    expect(substituteVariables('https://yum.qubes-os.org/r$releasever/templates-itl', '4.2')).toBe(
      'https://yum.qubes-os.org/r4.2/templates-itl',
    );
    expect(substituteVariables('http://m/${releasever}/$basearch/', '4.3')).toBe('http://m/4.3/x86_64/');
  });

  it('joins hrefs below a base with or without a trailing slash', () => {
    expect(joinUrl('http://m/repo', 'repodata/repomd.xml')).toBe('http://m/repo/repodata/repomd.xml');
    expect(joinUrl('http://m/repo/', 'repodata/repomd.xml')).toBe('http://m/repo/repodata/repomd.xml');
  });

  it('keeps only http(s) lines of a mirrorlist', () => {
    const text =
      '# comment\n\nhttp://a/repo\nftp://b/repo\nfile:///etc\n  https://c/repo  \njavascript:alert(1)\nhttp://d/x y\n';
    expect(parseMirrorlist(new TextEncoder().encode(text))).toEqual(['http://a/repo', 'https://c/repo']);
  });
});
