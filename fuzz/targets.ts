/**
 * The fuzz targets: every parser on the trusted side of the boundary, each wrapped so that an
 * input either parses (and the round-trip or differential property of the parsed value holds) or
 * is refused with the project's error class and one of the target's stable codes.
 */
import { decodeFrames, encodeFrame, FrameSequence, type Frame } from '../protocol/frames.ts';
import { decodeJsonFrame, encodeMessageFrame } from '../protocol/messages.ts';
import { parseLead } from '../protocol/rpm-lead.ts';
import { MAIN_HEADER, parseHeader, SIGNATURE_HEADER, type RpmHeader } from '../protocol/rpm-header.ts';
import { parsePackageHead, readPackageHead } from '../protocol/rpm-package.ts';
import { packageInfo } from '../protocol/rpm-info.ts';
import {
  checkNoSignatureTagsInMainHeader,
  headerSignatureBlobs,
  parseRpmSignature,
  verifyHeaderDigests,
} from '../protocol/rpm-signature.ts';
import { RpmType } from '../protocol/rpm-tags.ts';
import { ByteReader } from '../protocol/byte-reader.ts';
import { TmplError } from '../protocol/errors.ts';
import { readSparseTar, MAX_IMAGE_SIZE, MAX_SPARSE_EXTENTS } from '../protocol/sparse-tar.ts';
import { parsePaxRecords } from '../protocol/pax-header.ts';
import { interpretPax, sparseFormatOf } from '../protocol/sparse-pax.ts';
import { readPaxMap01 } from '../protocol/sparse-maps.ts';
import { ExtentCollector } from '../protocol/sparse-extents.ts';
import {
  BOOLEAN_FEATURE_KEYS,
  IP_FEATURE_KEYS,
  isIpv4,
  parseAppmenuList,
  parseTemplateConf,
} from '../orchestrator/verify/template-conf.ts';
import { parseIni, type IniSection } from '../orchestrator/repos/ini-file.ts';
import { parseRepoFile } from '../orchestrator/repos/repo-config.ts';
import {
  JSON_TYPES,
  WORKER_OPS,
  appmenuArbitrary,
  frameStreamArbitrary,
  iniArbitrary,
  messageArbitrary,
  rpmHeaderArbitrary,
  sparseTarArbitrary,
  templateConfArbitrary,
} from './arbitraries.ts';
import { chunked, concatBytes, equalBytes, PropertyFailure, type FuzzTarget } from './target.ts';

const KiB = 1024;
const text = new TextEncoder();

async function* asyncChunks(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (const chunk of chunked(bytes, size)) yield chunk;
  await Promise.resolve();
}

/** Input layout: [op selector, chunk size, stream bytes...]. */
const frames: FuzzTarget = {
  name: 'frames',
  parsers: 'protocol/frames.ts decodeFrames with FrameSequence',
  sources: ['protocol/frames.ts'],
  maxInputBytes: 64 * KiB,
  refusals: /^frame\./,
  dictionary: [
    Uint8Array.of(0x10, 0, 0, 0),
    Uint8Array.of(0x12, 0, 0, 0),
    Uint8Array.of(0x13, 0, 0, 0),
    Uint8Array.of(0x14, 0, 0, 0),
    Uint8Array.of(0x15, 0, 0, 0),
    Uint8Array.of(0x16, 0, 0, 0),
    Uint8Array.of(0x19, 0, 0, 0),
    Uint8Array.of(0x1f, 0, 0, 0),
  ],
  arbitrary: frameStreamArbitrary(),
  async run(input) {
    const op = WORKER_OPS[(input[0] ?? 0) % WORKER_OPS.length] ?? 'fetch';
    const stream = input.subarray(2);
    const decoded: Frame[] = [];
    for await (const frame of decodeFrames(chunked(stream, input[1] ?? 0), {
      sequence: new FrameSequence(op),
    })) {
      decoded.push(frame);
    }
    // Round trip: the accepted stream is exactly the encoding of the frames it decoded to.
    const again = concatBytes(decoded.map((f) => encodeFrame(f.type, f.payload)));
    if (!equalBytes(again, stream)) throw new PropertyFailure('encode(decode(stream)) differs from stream');
  },
};

/** Terminal controls, bidi overrides and lone surrogates: never in an accepted message's text. */
const UNSAFE = /[\p{Cc}\p{Cs}\u202a-\u202e\u2066-\u2069]/u;
/** Fields whose schema allows line breaks and tabs (armoured keys, PEM, descriptions, messages). */
const LINE_BREAKS: Readonly<Record<string, RegExp>> = {
  keys: /[\t\r\n]/g,
  sslcacert: /[\t\r\n]/g,
  description: /[\t\n]/g,
  message: /[\t\n]/g,
};

/** Throws unless every string in `value` is free of UNSAFE characters (except its field's allowance). */
function checkText(value: unknown, field: string): void {
  if (typeof value === 'string') {
    const allowed = LINE_BREAKS[field];
    if (UNSAFE.test(allowed === undefined ? value : value.replace(allowed, ' ')))
      throw new PropertyFailure(`${field}: accepted text with a control, bidi or surrogate character`);
  } else if (Array.isArray(value)) {
    for (const item of value) checkText(item, field);
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) checkText(item, key);
  }
}

/** Input layout: [JSON frame type selector, payload bytes...]. */
const messages: FuzzTarget = {
  name: 'messages',
  parsers: 'protocol/messages.ts decodeJsonFrame (every JSON frame schema)',
  sources: ['protocol/messages.ts'],
  maxInputBytes: 16 * KiB,
  refusals: /^(message|frame)\./,
  dictionary: [
    '{"protocol":1,"worker":"1.0"}',
    '"path":"/var/lib/qubes/vm-templates/x/root.img.part.00"',
    '"size":',
    '"stage":"unpack"',
    '"done":',
    '"total":',
    '"files":[]',
    '"bytes":0',
    '"code":"worker.failed"',
    '"message":""',
    '"packages":[]',
    '"repomd":[]',
    '"warnings":[]',
    '"epoch":0',
    '\\u202e',
    '\\u0000',
    '\\ud800',
    '9007199254740993',
    '1e400',
    '-0',
  ],
  arbitrary: messageArbitrary(),
  run(input) {
    const type = JSON_TYPES[(input[0] ?? 0) % JSON_TYPES.length] ?? 'HELLO';
    const value: unknown = decodeJsonFrame({ type, payload: input.subarray(1) }, type);
    checkText(value, type);
    // Round trip: what was accepted encodes to a frame that decodes to the same value.
    const frame = encodeMessageFrame(type, value as never);
    const back: unknown = decodeJsonFrame({ type, payload: frame.subarray(8) }, type);
    if (JSON.stringify(back) !== JSON.stringify(value))
      throw new PropertyFailure(`${type}: decode(encode(value)) differs from value`);
  },
};

const rpmLead: FuzzTarget = {
  name: 'rpm-lead',
  parsers: 'protocol/rpm-lead.ts parseLead',
  sources: ['protocol/rpm-lead.ts'],
  maxInputBytes: 256,
  refusals: /^rpm\./,
  dictionary: [Uint8Array.of(0xed, 0xab, 0xee, 0xdb), Uint8Array.of(0, 5)],
  run(input) {
    const lead = parseLead(input);
    if (lead.signatureType !== 5 || (lead.major !== 3 && lead.major !== 4))
      throw new PropertyFailure('lead accepted with a version or signature type rpm refuses');
  },
};

/** Reads every entry through the accessor of its type, as packageInfo and the verifiers do. */
function readAllEntries(header: RpmHeader): void {
  for (const entry of header.entries) {
    const data = header.data(entry);
    if (data.length !== entry.length) throw new PropertyFailure(`tag ${entry.tag}: data length differs`);
    switch (entry.type) {
      case RpmType.STRING:
        header.string(entry.tag);
        break;
      case RpmType.STRING_ARRAY:
      case RpmType.I18NSTRING:
        header.stringArray(entry.tag);
        break;
      case RpmType.BIN:
        header.binary(entry.tag);
        break;
      default:
        header.numbers(entry.tag);
    }
  }
}

/** Input layout: [kind selector (even: main, odd: signature), header bytes...]. */
const rpmHeader: FuzzTarget = {
  name: 'rpm-header',
  parsers: 'protocol/rpm-header.ts parseHeader and its accessors, protocol/rpm-info.ts packageInfo',
  sources: ['protocol/rpm-header.ts', 'protocol/rpm-info.ts'],
  maxInputBytes: 64 * KiB,
  refusals: /^rpm\./,
  dictionary: [
    Uint8Array.of(0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0),
    Uint8Array.of(0, 0, 0, 63),
    Uint8Array.of(0, 0, 0, 62),
    Uint8Array.of(0xff, 0xff, 0xff, 0xb0),
    Uint8Array.of(0, 0, 0, 7),
    Uint8Array.of(0, 0, 0, 8),
    Uint8Array.of(0, 0, 0, 6),
  ],
  arbitrary: rpmHeaderArbitrary(),
  run(input) {
    const kind = (input[0] ?? 0) % 2 === 0 ? MAIN_HEADER : SIGNATURE_HEADER;
    const header = parseHeader(input.subarray(1), 0, kind);
    readAllEntries(header);
    if (kind === MAIN_HEADER) packageInfo(header);
  },
};

function errorCode(error: unknown): string {
  if (error instanceof TmplError) return error.code;
  throw error;
}

/** Input layout: [chunk size, package bytes...]. */
const rpmPackage: FuzzTarget = {
  name: 'rpm-package',
  parsers: 'protocol/rpm-package.ts parsePackageHead and readPackageHead, header digests',
  sources: [
    'protocol/rpm-package.ts',
    'protocol/rpm-lead.ts',
    'protocol/rpm-header.ts',
    'protocol/rpm-info.ts',
  ],
  maxInputBytes: 128 * KiB,
  refusals: /^(rpm|signature|digest)\./,
  dictionary: [
    Uint8Array.of(0xed, 0xab, 0xee, 0xdb),
    Uint8Array.of(0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0),
    Uint8Array.of(0, 0, 0, 62),
    Uint8Array.of(0, 0, 0, 63),
  ],
  async run(input) {
    const bytes = input.subarray(1);
    // Differential: the buffer parser and the streaming parser agree on every input.
    let streamed: { offset: number; bytes: Uint8Array } | { code: string };
    try {
      const head = await readPackageHead(new ByteReader(asyncChunks(bytes, input[0] ?? 0)));
      streamed = { offset: head.payloadOffset, bytes: head.headBytes };
    } catch (error) {
      streamed = { code: errorCode(error) };
    }
    let head;
    try {
      head = parsePackageHead(bytes);
    } catch (error) {
      if (!('code' in streamed) || streamed.code !== errorCode(error))
        throw new PropertyFailure('readPackageHead and parsePackageHead disagree');
      throw error;
    }
    if (
      !('offset' in streamed) ||
      streamed.offset !== head.payloadOffset ||
      !equalBytes(streamed.bytes, head.headBytes)
    )
      throw new PropertyFailure('readPackageHead and parsePackageHead disagree');
    if (!equalBytes(head.headBytes, bytes.subarray(0, head.payloadOffset)))
      throw new PropertyFailure('headBytes is not the prefix of the input');
    readAllEntries(head.signature);
    readAllEntries(head.header);
    checkNoSignatureTagsInMainHeader(head);
    verifyHeaderDigests(head);
    packageInfo(head.header);
  },
};

const rpmSignature: FuzzTarget = {
  name: 'rpm-signature',
  parsers: 'protocol/rpm-signature.ts headerSignatureBlobs and parseRpmSignature over a signature header',
  sources: ['protocol/rpm-signature.ts', 'protocol/rpm-header.ts'],
  maxInputBytes: 32 * KiB,
  refusals: /^(rpm|signature)\./,
  dictionary: [
    Uint8Array.of(0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0),
    Uint8Array.of(0, 0, 1, 12),
    Uint8Array.of(0, 0, 1, 13),
    Uint8Array.of(0, 0, 0, 7),
    Uint8Array.of(0x89, 0x02),
    Uint8Array.of(0xc2),
  ],
  async run(input) {
    const signature = parseHeader(input, 0, SIGNATURE_HEADER);
    for (const { what, bytes } of headerSignatureBlobs(signature)) await parseRpmSignature(bytes, what);
  },
};

/** Input layout: [chunk size, archive bytes...]. */
const sparseTar: FuzzTarget = {
  name: 'sparse-tar',
  parsers: 'protocol/sparse-tar.ts readSparseTar (old GNU, pax 0.0/0.1/1.0 and plain; its maps)',
  sources: [
    'protocol/sparse-tar.ts',
    'protocol/sparse-maps.ts',
    'protocol/sparse-pax.ts',
    'protocol/sparse-extents.ts',
    'protocol/tar-header.ts',
    'protocol/pax-header.ts',
    'protocol/byte-source.ts',
  ],
  maxInputBytes: 96 * KiB,
  refusals: /^sparse\./,
  dictionary: [
    'ustar  \0',
    'ustar\x0000',
    '././@LongLink',
    'GNU.sparse.major=1\n',
    'GNU.sparse.minor=0\n',
    'GNU.sparse.realsize=',
    'GNU.sparse.name=root.img\n',
    'GNU.sparse.map=',
    'GNU.sparse.numblocks=',
    'GNU.sparse.offset=',
    'GNU.sparse.numbytes=',
    'GNU.sparse.size=',
    'path=',
    'size=',
    '00000001000\0',
    Uint8Array.of(0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1),
  ],
  arbitrary: sparseTarArbitrary(),
  async run(input) {
    const events = readSparseTar(asyncChunks(input.subarray(1), (input[0] ?? 0) * 37));
    let extents: readonly { offset: number; length: number }[] | undefined;
    let realSize = 0;
    let index = 0;
    let inExtent = 0;
    let next = 0;
    for await (const event of events) {
      if (event.type === 'member') {
        if (extents !== undefined) throw new PropertyFailure('second member event');
        extents = event.extents;
        realSize = event.realSize;
        let end = 0;
        for (const e of extents) {
          if (e.length <= 0 || e.offset < end) throw new PropertyFailure('extents not ordered and non-empty');
          end = e.offset + e.length;
        }
        if (end > realSize || realSize > MAX_IMAGE_SIZE || extents.length > MAX_SPARSE_EXTENTS)
          throw new PropertyFailure('extents outside the real size or the limits');
        continue;
      }
      // Data events cover each extent exactly, in order.
      const extent = extents?.[index];
      if (extent === undefined) throw new PropertyFailure('data beyond the map');
      if (inExtent === 0) next = extent.offset;
      if (event.offset !== next) throw new PropertyFailure('data event out of order');
      next += event.bytes.length;
      inExtent += event.bytes.length;
      if (inExtent > extent.length) throw new PropertyFailure('data event crosses an extent');
      if (inExtent === extent.length) {
        index++;
        inExtent = 0;
      }
    }
    if (extents === undefined || index !== extents.length || inExtent !== 0)
      throw new PropertyFailure('archive accepted without all of its data');
  },
};

const sparsePax: FuzzTarget = {
  name: 'sparse-pax',
  parsers: 'protocol/pax-header.ts parsePaxRecords, sparse-pax.ts interpretPax, sparse-maps.ts readPaxMap01',
  sources: [
    'protocol/pax-header.ts',
    'protocol/sparse-pax.ts',
    'protocol/sparse-maps.ts',
    'protocol/sparse-extents.ts',
  ],
  maxInputBytes: 16 * KiB,
  refusals: /^sparse\./,
  dictionary: [
    'GNU.sparse.major',
    'GNU.sparse.minor',
    'GNU.sparse.realsize',
    'GNU.sparse.name',
    'GNU.sparse.map',
    'GNU.sparse.numblocks',
    'GNU.sparse.offset',
    'GNU.sparse.numbytes',
    'GNU.sparse.size',
    'GNU.dumpdir',
    'path',
    'size',
    '=',
    '\n',
    ',',
  ],
  run(input) {
    const limits = { maxImageSize: MAX_IMAGE_SIZE, maxExtents: MAX_SPARSE_EXTENTS };
    const info = interpretPax(parsePaxRecords(input, 0), limits);
    if (!info.anySparse) return;
    const format = sparseFormatOf(info, 0);
    if (format === 'pax-0.1' && info.map !== undefined && info.numblocks !== undefined) {
      const collector = new ExtentCollector(info.realsize ?? 0, limits.maxExtents);
      readPaxMap01(info.map, info.numblocks, collector, limits);
      if (collector.extents.reduce((n, e) => n + e.length, 0) !== collector.dataSize)
        throw new PropertyFailure('dataSize differs from the sum of the extents');
    }
  },
};

/** Input layout: [allowPv selector, template.conf bytes...]. */
const templateConf: FuzzTarget = {
  name: 'template-conf',
  parsers: 'orchestrator/verify/template-conf.ts parseTemplateConf',
  sources: ['orchestrator/verify/template-conf.ts'],
  maxInputBytes: 8 * KiB,
  refusals: /^template\.conf$/,
  dictionary: [
    'gui=1\n',
    'qrexec=1\n',
    'virt-mode=',
    'pvh',
    'hvm',
    'pv',
    'kernel=\n',
    'net.fake-ip=',
    'net.fake-gateway=',
    'net.fake-netmask=',
    '255.255.255.0',
    '10.137.0.1',
    'no-monitor-layout=1\n',
    'pci-e820-host=',
    'linux-stubdom=',
    'selinux=',
    'gui-emulated=',
    '\r\n',
  ],
  arbitrary: templateConfArbitrary(),
  run(input) {
    const allowPv = (input[0] ?? 0) % 2 === 1;
    const conf = parseTemplateConf(input.subarray(1), { allowPv });
    // Round trip: the settings it honours, written back as template.conf, parse to the same.
    const lines = [...conf.features].map(([k, v]) => `${k}=${v}`);
    if (conf.virtMode !== undefined) lines.push(`virt-mode=${conf.virtMode}`);
    if (conf.kernel !== undefined) lines.push('kernel=');
    const again = parseTemplateConf(text.encode(lines.join('\n')), { allowPv });
    if (
      JSON.stringify([...again.features].sort()) !== JSON.stringify([...conf.features].sort()) ||
      again.virtMode !== conf.virtMode ||
      again.kernel !== conf.kernel ||
      again.warnings.length !== 0
    )
      throw new PropertyFailure('template.conf settings do not survive a round trip');
    if (conf.virtMode === 'pv' && !allowPv) throw new PropertyFailure('virt-mode=pv without allowPv');
    for (const [key, value] of conf.features) {
      const honoured = (BOOLEAN_FEATURE_KEYS as readonly string[]).includes(key)
        ? value === '1'
        : (IP_FEATURE_KEYS as readonly string[]).includes(key) && isIpv4(value);
      if (!honoured) throw new PropertyFailure(`template.conf set feature ${key} to a value it may not have`);
    }
  },
};

const appmenus: FuzzTarget = {
  name: 'appmenus',
  parsers: 'orchestrator/verify/template-conf.ts parseAppmenuList',
  sources: ['orchestrator/verify/template-conf.ts'],
  maxInputBytes: 8 * KiB,
  refusals: /^template\.appmenu$/,
  dictionary: ['org.gnome.Terminal.desktop', 'firefox.desktop', '\n', ' ', '\t', '\r', '@', '+'],
  arbitrary: appmenuArbitrary(),
  run(input) {
    const value = parseAppmenuList(input, 'appmenus');
    if (value !== '' && !/^[A-Za-z0-9_.@+-]+( [A-Za-z0-9_.@+-]+)*$/.test(value))
      throw new PropertyFailure('feature value is not a space-separated list of menu item names');
    if (parseAppmenuList(text.encode(value.split(' ').join('\n')), 'appmenus') !== value)
      throw new PropertyFailure('appmenu list does not survive a round trip');
  },
};

function writeIni(sections: readonly IniSection[]): string {
  return sections
    .map((s) => {
      const lines = [`[${s.name}]`];
      for (const [key, value] of s.values) {
        const [first, ...rest] = value.split('\n');
        lines.push(`${key}=${first ?? ''}`, ...rest.map((line) => ` ${line}`));
      }
      return lines.join('\n');
    })
    .join('\n');
}

const iniFile: FuzzTarget = {
  name: 'ini-file',
  parsers: 'orchestrator/repos/ini-file.ts parseIni',
  sources: ['orchestrator/repos/ini-file.ts'],
  maxInputBytes: 8 * KiB,
  refusals: /^repo-config\./,
  dictionary: ['[', ']', '=', '\n', ' ', '\t', '\r', '#', ';', '[main]\n', '\xef\xbb\xbf'],
  arbitrary: iniArbitrary(),
  run(input) {
    const sections = parseIni(input);
    // Round trip: the sections written back in canonical form parse to the same sections.
    const again = parseIni(text.encode(writeIni(sections)));
    const plain = (list: readonly IniSection[]) => JSON.stringify(list.map((s) => [s.name, [...s.values]]));
    if (plain(again) !== plain(sections))
      throw new PropertyFailure('INI sections do not survive a round trip');
  },
};

const repoConfig: FuzzTarget = {
  name: 'repo-config',
  parsers: 'orchestrator/repos/repo-config.ts parseRepoFile (options, variables, URL lists)',
  sources: ['orchestrator/repos/repo-config.ts', 'orchestrator/repos/ini-file.ts'],
  maxInputBytes: 8 * KiB,
  refusals: /^repo-config\./,
  dictionary: [
    '[qubes-templates-itl]\n',
    'baseurl=',
    'metalink=',
    'mirrorlist=',
    'https://yum.qubes-os.org/r$releasever/templates-itl\n',
    'file:///etc/qubes/repo-templates/keys/RPM-GPG-KEY-qubes-$releasever-primary\n',
    'enabled=',
    'gpgcheck=',
    'repo_gpgcheck=',
    'gpgkey=',
    'metadata_expire=',
    'sslverify=',
    'sslcacert=',
    'name=',
    '$releasever',
    '${releasever:-x}',
    '${basearch:+y}',
    '$basearch',
    '\\$',
    'never',
    '-1',
    '7d',
    'yes',
    'off',
  ],
  arbitrary: iniArbitrary(),
  run(input) {
    for (const repo of parseRepoFile(input, 'fuzz.repo', { releasever: '4.2' })) {
      if (!/^[A-Za-z0-9_.:-]{1,100}$/.test(repo.id)) throw new PropertyFailure(`repository id ${repo.id}`);
    }
  },
};

export const TARGETS: readonly FuzzTarget[] = [
  frames,
  messages,
  rpmLead,
  rpmHeader,
  rpmPackage,
  rpmSignature,
  sparseTar,
  sparsePax,
  templateConf,
  appmenus,
  iniFile,
  repoConfig,
];

export function targetNamed(name: string): FuzzTarget | undefined {
  return TARGETS.find((t) => t.name === name);
}
