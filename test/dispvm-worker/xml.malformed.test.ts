import { describe, expect, it } from 'vitest';
import { MAX_XML_ATTRIBUTES, MAX_XML_DEPTH, parseXmlTree, scanXml } from '../../dispvm-worker/xml.ts';
import { expectCode } from '../helpers/expect-error.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const tree = (s: string | Uint8Array) =>
  parseXmlTree(typeof s === 'string' ? enc(s) : s, 1000, 'repomd.elements');

/** The classic "billion laughs": ten levels of entities each expanding ten of the previous. */
function billionLaughs(root: string): string {
  const entities = ['<!ENTITY lol0 "lol">'];
  for (let i = 1; i <= 9; i++) entities.push(`<!ENTITY lol${i} "${`&lol${i - 1};`.repeat(10)}">`);
  return `<?xml version="1.0"?>\n<!DOCTYPE ${root} [\n${entities.join('\n')}\n]>\n<${root}>&lol9;</${root}>`;
}

describe('XML reader accepts the subset rpm-md uses', () => {
  it('reads elements, attributes, references, CDATA and normalises line ends', () => {
    const root = tree(
      '\ufeff<?xml version="1.0" encoding="UTF-8"?>\n<!-- c --><a x="1 &amp; &#x32;&#10;" y=\'q\'>t&lt;&#233;\r\n<b/><![CDATA[<&>]]><?pi x?></a>\n',
    );
    expect(root.name).toBe('a');
    expect(root.attributes.get('x')).toBe('1 & 2\n');
    expect(root.attributes.get('y')).toBe('q');
    expect(root.text).toBe('t<é\n<&>');
    expect(root.children.map((c) => c.name)).toEqual(['b']);
  });

  it('reports byte offsets past multi-byte characters', async () => {
    await expectCode(() => tree('<a>éé</b>'), 'xml.mismatched-tag');
    try {
      tree('<a>éé</b>');
    } catch (e) {
      expect((e as { offset: number }).offset).toBe(7);
    }
  });
});

describe('XML reader refuses hostile documents', () => {
  const cases: [string, string | Uint8Array, string][] = [
    ['billion laughs', billionLaughs('repomd'), 'xml.doctype'],
    ['lowercase doctype', '<!doctype a><a/>', 'xml.doctype'],
    ['external entity', '<!DOCTYPE a SYSTEM "file:///etc/passwd"><a>&x;</a>', 'xml.doctype'],
    ['entity declaration without doctype', '<a><!ENTITY x "y"></a>', 'xml.entity'],
    ['entity declaration in a comment', '<a><!-- <!ENTITY x "y"> --></a>', 'xml.entity'],
    ['undeclared entity reference', '<a>&lol9;</a>', 'xml.reference'],
    ['html entity', '<a>&nbsp;</a>', 'xml.reference'],
    ['bare ampersand', '<a>fish & chips</a>', 'xml.reference'],
    ['reference to NUL', '<a>&#0;</a>', 'xml.reference'],
    ['reference to a surrogate', '<a>&#xD800;</a>', 'xml.reference'],
    ['reference beyond Unicode', '<a>&#x110000;</a>', 'xml.reference'],
    ['raw control character', '<a>\u0001</a>', 'xml.char'],
    ['invalid UTF-8', new Uint8Array([0x3c, 0x61, 0x3e, 0xff, 0x3c, 0x2f, 0x61, 0x3e]), 'xml.encoding'],
    ['declared non-UTF-8 encoding', '<?xml version="1.0" encoding="ISO-8859-1"?><a/>', 'xml.encoding'],
    ['mismatched end tag', '<a><b></a></b>', 'xml.mismatched-tag'],
    ['unclosed root', '<a><b></b>', 'xml.syntax'],
    ['two roots', '<a/><b/>', 'xml.syntax'],
    ['text after the root', '<a/>junk', 'xml.syntax'],
    ['no root', '<?xml version="1.0"?>', 'xml.syntax'],
    ['empty document', '', 'xml.syntax'],
    ['late XML declaration', '<a><?xml version="1.0"?></a>', 'xml.syntax'],
    ['unquoted attribute', '<a x=1/>', 'xml.syntax'],
    ['< in attribute', '<a x="<"/>', 'xml.syntax'],
    ['duplicate attribute', '<a x="1" x="2"/>', 'xml.attributes'],
    [
      'too many attributes',
      `<a ${Array.from({ length: MAX_XML_ATTRIBUTES + 1 }, (_, i) => `a${i}="1"`).join(' ')}/>`,
      'xml.attributes',
    ],
    ['attributes without whitespace', '<a x="1"y="2"/>', 'xml.syntax'],
    [
      'nesting too deep',
      `${'<a>'.repeat(MAX_XML_DEPTH + 1)}${'</a>'.repeat(MAX_XML_DEPTH + 1)}`,
      'xml.depth',
    ],
    ['name too long', `<${'a'.repeat(300)}/>`, 'xml.name'],
    ['unterminated comment', '<a><!-- </a>', 'xml.syntax'],
    ['unterminated CDATA', '<a><![CDATA[ </a>', 'xml.syntax'],
    ['other markup declaration', '<a><!ELEMENT a ANY></a>', 'xml.syntax'],
    ['truncated start tag', '<a><b x="1"', 'xml.syntax'],
  ];
  it.each(cases)('%s', async (_name, input, code) => {
    await expectCode(() => tree(input), code);
  });

  it('limits the number of elements of a tree', async () => {
    await expectCode(
      () => parseXmlTree(enc(`<a>${'<b/>'.repeat(20)}</a>`), 10, 'repomd.elements'),
      'repomd.elements',
    );
  });

  it('stops before the handler sees anything of a document with a DOCTYPE', async () => {
    const seen: string[] = [];
    await expectCode(
      () =>
        scanXml(enc(`<a>${'<b/>'.repeat(5)}<!DOCTYPE x></a>`), {
          openElement: (n) => seen.push(n),
          text: () => undefined,
          closeElement: () => undefined,
        }),
      'xml.doctype',
    );
    expect(seen).toEqual([]);
  });
});
