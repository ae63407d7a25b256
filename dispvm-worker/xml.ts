/**
 * A small strict XML reader for repository metadata (repomd.xml, primary.xml, metalinks).
 *
 * Written here rather than configuring a general parser because the subset rpm-md uses is small
 * and the input is hostile: there is no DTD support at all (a DOCTYPE or ENTITY declaration is an
 * error, so no entity can ever be expanded), only the five predefined entities and character
 * references are decoded, every limit is a named constant, errors carry a stable code and the
 * byte offset, and events are delivered as the document is scanned so callers keep only what they
 * need (primary.xml holds every package of a repository).
 *
 * Follows XML 1.0 (Fifth Edition) for what it accepts: one root element, comments, processing
 * instructions, CDATA sections, end-of-line normalisation (2.11) and attribute-value
 * normalisation of literal whitespace (3.3.3). Names are restricted to ASCII.
 *
 * Over 300 lines: one scanner over the XML subset rpm-md uses, each construct with its limit.
 */
import { ParseError } from '../protocol/index.ts';
import type { ErrorCode, XmlErrorCode } from '../protocol/error-codes.ts';
export type { XmlErrorCode };

/** Deepest element nesting accepted; rpm-md documents nest five or six levels. */
export const MAX_XML_DEPTH = 32;
/** Most attributes on one element; rpm-md elements carry at most a handful. */
export const MAX_XML_ATTRIBUTES = 32;
/** Longest element or attribute name. */
export const MAX_XML_NAME_LENGTH = 128;

export interface XmlHandler {
  openElement(name: string, attributes: ReadonlyMap<string, string>, offset: number): void;
  /** Character data of the current element, possibly in several pieces. */
  text(text: string): void;
  closeElement(name: string): void;
}

/**
 * Refuses DTD declarations by looking at the raw bytes, before any decoding: a document that
 * declares a DOCTYPE or an ENTITY is never handed to the parser.
 */
export function refuseDeclarations(bytes: Uint8Array): void {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Every declaration starts with '<!'; the native search finds those, then the keyword is
  // compared without regard to case.
  for (
    let at = buffer.indexOf(MARKUP_DECLARATION);
    at !== -1;
    at = buffer.indexOf(MARKUP_DECLARATION, at + 2)
  ) {
    if (keywordAt(buffer, at + 2, 'DOCTYPE'))
      throw new ParseError('xml.doctype', 'DOCTYPE declarations are refused', at);
    if (keywordAt(buffer, at + 2, 'ENTITY'))
      throw new ParseError('xml.entity', 'ENTITY declarations are refused', at);
  }
}

const MARKUP_DECLARATION = Buffer.from('<!');

function keywordAt(buffer: Buffer, at: number, upperKeyword: string): boolean {
  if (at + upperKeyword.length > buffer.length) return false;
  for (let k = 0; k < upperKeyword.length; k++) {
    // ASCII letters only: clearing bit 0x20 maps a-z onto A-Z.
    if ((buffer[at + k]! & 0xdf) !== upperKeyword.charCodeAt(k)) return false;
  }
  return true;
}

/** Decodes UTF-8 strictly (no replacement characters), after a leading byte-order mark if any. */
export function decodeXmlBytes(bytes: Uint8Array): string {
  refuseDeclarations(bytes);
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch (cause) {
    throw new ParseError('xml.encoding', 'document is not valid UTF-8', 0, { cause });
  }
}

const NAME = /[A-Za-z_:][A-Za-z0-9_:.-]*/y;
const WHITESPACE = /[ \t\r\n]*/y;
/** Chars XML 1.0 forbids anywhere: C0 controls other than tab, LF, CR; U+FFFE/U+FFFF; lone surrogates. */
const FORBIDDEN_CHAR =
  /[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

class Scanner {
  pos = 0;
  private charMark = 0;
  private byteMark = 0;
  constructor(
    readonly text: string,
    private readonly ascii: boolean,
  ) {}

  /** Byte offset of a character index; cheap for the increasing indexes of a forward scan. */
  byteOffsetOf(index: number): number {
    if (this.ascii) return index;
    if (index < this.charMark) return Buffer.byteLength(this.text.slice(0, index));
    this.byteMark += Buffer.byteLength(this.text.slice(this.charMark, index));
    this.charMark = index;
    return this.byteMark;
  }

  fail(code: XmlErrorCode, message: string, at = this.pos): never {
    throw new ParseError(code, message, this.byteOffsetOf(at));
  }

  startsWith(s: string): boolean {
    return this.text.startsWith(s, this.pos);
  }

  skipWhitespace(): void {
    WHITESPACE.lastIndex = this.pos;
    WHITESPACE.exec(this.text);
    this.pos = WHITESPACE.lastIndex;
  }

  name(): string {
    NAME.lastIndex = this.pos;
    const m = NAME.exec(this.text);
    if (m === null) this.fail('xml.name', 'expected a name');
    if (m[0].length > MAX_XML_NAME_LENGTH) this.fail('xml.name', `name longer than ${MAX_XML_NAME_LENGTH}`);
    this.pos += m[0].length;
    return m[0];
  }

  /** Returns the text up to `terminator` and moves past it. */
  until(terminator: string, what: string): string {
    const end = this.text.indexOf(terminator, this.pos);
    if (end === -1) this.fail('xml.syntax', `unterminated ${what}`);
    const s = this.text.slice(this.pos, end);
    this.pos = end + terminator.length;
    return s;
  }
}

const PREDEFINED: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeReferences(s: string, scanner: Scanner, base: number): string {
  if (!s.includes('&')) return s;
  return s.replace(/&([^;&]*);?/g, (whole, body: string, index: number) => {
    const at = base + index;
    if (!whole.endsWith(';')) scanner.fail('xml.reference', 'unterminated reference', at);
    const predefined = PREDEFINED[body];
    if (predefined !== undefined) return predefined;
    const m = /^#(?:([0-9]{1,7})|x([0-9A-Fa-f]{1,6}))$/.exec(body);
    if (m === null) scanner.fail('xml.reference', `unknown entity reference &${body.slice(0, 32)};`, at);
    const cp = m[1] !== undefined ? Number(m[1]) : parseInt(m[2]!, 16);
    const valid =
      cp === 0x9 ||
      cp === 0xa ||
      cp === 0xd ||
      (cp >= 0x20 && cp <= 0xd7ff) ||
      (cp >= 0xe000 && cp <= 0xfffd) ||
      (cp >= 0x10000 && cp <= 0x10ffff);
    if (!valid) scanner.fail('xml.reference', 'character reference to a character XML forbids', at);
    return String.fromCodePoint(cp);
  });
}

/** XML 2.11: CRLF and lone CR become LF before anything else sees the text. */
function normaliseLineEnds(s: string): string {
  return s.includes('\r') ? s.replace(/\r\n?/g, '\n') : s;
}

function parseAttributes(scanner: Scanner): Map<string, string> {
  const attributes = new Map<string, string>();
  for (;;) {
    const before = scanner.pos;
    scanner.skipWhitespace();
    if (scanner.startsWith('>') || scanner.startsWith('/>')) return attributes;
    if (scanner.pos === before) scanner.fail('xml.syntax', 'expected whitespace before an attribute');
    const nameAt = scanner.pos;
    const name = scanner.name();
    scanner.skipWhitespace();
    if (!scanner.startsWith('=')) scanner.fail('xml.syntax', 'expected = after an attribute name');
    scanner.pos++;
    scanner.skipWhitespace();
    const quote = scanner.text[scanner.pos];
    if (quote !== '"' && quote !== "'") scanner.fail('xml.syntax', 'attribute value is not quoted');
    scanner.pos++;
    const valueAt = scanner.pos;
    const raw = scanner.until(quote, 'attribute value');
    if (raw.includes('<')) scanner.fail('xml.syntax', "'<' in an attribute value", valueAt);
    if (attributes.has(name)) scanner.fail('xml.attributes', `duplicate attribute ${name}`, nameAt);
    if (attributes.size >= MAX_XML_ATTRIBUTES) {
      scanner.fail('xml.attributes', `more than ${MAX_XML_ATTRIBUTES} attributes`, nameAt);
    }
    attributes.set(name, decodeReferences(normaliseLineEnds(raw).replace(/[\t\n]/g, ' '), scanner, valueAt));
  }
}

/**
 * Scans a whole document, calling the handler for every element and piece of text inside the
 * root. Throws ParseError ('xml.*'), or whatever the handler throws.
 */
export function scanXml(bytes: Uint8Array, handler: XmlHandler): void {
  const text = decodeXmlBytes(bytes);
  const scanner = new Scanner(text, text.length === bytes.length);
  const forbidden = FORBIDDEN_CHAR.exec(text);
  if (forbidden !== null) scanner.fail('xml.char', 'character XML forbids', forbidden.index);
  if (scanner.startsWith('\ufeff')) scanner.pos++;
  if (scanner.startsWith('<?xml') && /[ \t\r\n?]/.test(text[scanner.pos + 5] ?? '')) {
    const declaration = scanner.until('?>', 'XML declaration');
    const encoding = /encoding\s*=\s*["']([^"']*)["']/.exec(declaration);
    if (encoding !== null && !/^utf-?8$/i.test(encoding[1]!)) {
      scanner.fail('xml.encoding', `unsupported encoding ${encoding[1]!.slice(0, 32)}`, 0);
    }
  }
  const stack: string[] = [];
  let sawRoot = false;
  while (scanner.pos < text.length) {
    if (!scanner.startsWith('<')) {
      const at = scanner.pos;
      const next = text.indexOf('<', at);
      const end = next === -1 ? text.length : next;
      const raw = text.slice(at, end);
      scanner.pos = end;
      if (stack.length === 0) {
        if (!/^[ \t\r\n]*$/.test(raw)) scanner.fail('xml.syntax', 'text outside the root element', at);
        continue;
      }
      handler.text(decodeReferences(normaliseLineEnds(raw), scanner, at));
      continue;
    }
    const at = scanner.pos;
    if (scanner.startsWith('<!--')) {
      scanner.pos += 4;
      scanner.until('-->', 'comment');
    } else if (scanner.startsWith('<![CDATA[')) {
      if (stack.length === 0) scanner.fail('xml.syntax', 'CDATA outside the root element');
      scanner.pos += 9;
      handler.text(normaliseLineEnds(scanner.until(']]>', 'CDATA section')));
    } else if (scanner.startsWith('<!')) {
      // DOCTYPE and ENTITY were refused on the raw bytes; nothing else may start with '<!'.
      scanner.fail('xml.syntax', 'markup declaration');
    } else if (scanner.startsWith('<?')) {
      scanner.pos += 2;
      const target = scanner.name();
      if (target.toLowerCase() === 'xml') scanner.fail('xml.syntax', 'XML declaration not at the start', at);
      scanner.until('?>', 'processing instruction');
    } else if (scanner.startsWith('</')) {
      scanner.pos += 2;
      const name = scanner.name();
      scanner.skipWhitespace();
      if (!scanner.startsWith('>')) scanner.fail('xml.syntax', 'expected > after an end tag name');
      scanner.pos++;
      const open = stack.pop();
      if (open !== name)
        scanner.fail('xml.mismatched-tag', `end tag ${name} does not close ${open ?? 'anything'}`, at);
      handler.closeElement(name);
    } else {
      scanner.pos++;
      if (stack.length === 0 && sawRoot) scanner.fail('xml.syntax', 'second root element', at);
      const name = scanner.name();
      const attributes = parseAttributes(scanner);
      if (stack.length >= MAX_XML_DEPTH)
        scanner.fail('xml.depth', `elements nested deeper than ${MAX_XML_DEPTH}`, at);
      sawRoot = true;
      handler.openElement(name, attributes, scanner.byteOffsetOf(at));
      if (scanner.startsWith('/>')) {
        scanner.pos += 2;
        handler.closeElement(name);
      } else {
        scanner.pos++;
        stack.push(name);
      }
    }
  }
  if (stack.length > 0) scanner.fail('xml.syntax', `document ends inside ${stack[stack.length - 1]}`);
  if (!sawRoot) scanner.fail('xml.syntax', 'no root element');
}

/** A parsed element for the small documents (repomd.xml, metalinks) read as a whole. */
export interface XmlElement {
  readonly name: string;
  readonly attributes: ReadonlyMap<string, string>;
  readonly children: XmlElement[];
  /** Concatenated character data directly inside this element. */
  text: string;
  /** Byte offset of the start tag, for error reports. */
  readonly offset: number;
}

/** Builds a tree, refusing documents with more than `maxElements` elements. */
export function parseXmlTree(bytes: Uint8Array, maxElements: number, tooManyCode: ErrorCode): XmlElement {
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let count = 0;
  scanXml(bytes, {
    openElement(name, attributes, offset) {
      count++;
      if (count > maxElements) throw new ParseError(tooManyCode, `more than ${maxElements} elements`, offset);
      const element: XmlElement = { name, attributes, children: [], text: '', offset };
      const parent = stack[stack.length - 1];
      if (parent === undefined) root = element;
      else parent.children.push(element);
      stack.push(element);
    },
    text(text) {
      const current = stack[stack.length - 1];
      if (current !== undefined) current.text += text;
    },
    closeElement() {
      stack.pop();
    },
  });
  if (root === undefined) throw new ParseError('xml.syntax', 'no root element', 0);
  return root;
}
