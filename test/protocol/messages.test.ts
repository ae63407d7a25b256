import { describe, expect, it } from 'vitest';
import { ParseError } from '../../protocol/errors.ts';
import { decodeFrames, encodeFrame } from '../../protocol/frames.ts';
import {
  ErrorFrameSchema,
  MetadataSchema,
  PackageListingSchema,
  QueryResultSchema,
  RepoConfigSchema,
  RepomdEvidenceSchema,
  decodeJsonFrame,
  decodeRequest,
  encodeMessageFrame,
  encodeRequest,
  sanitizeText,
  type PackageListing,
  type WorkerRequest,
} from '../../protocol/messages.ts';
import {
  MAX_DESCRIPTION_LENGTH,
  MAX_LICENSE_LENGTH,
  MAX_REPOMD_EVIDENCE_BYTES,
  MAX_REPOMD_REVISION_DIGITS,
  MAX_REPOMD_SIGNATURE_EVIDENCE_LENGTH,
} from '../../protocol/limits.ts';

const KEY = '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQENBF...\n-----END PGP PUBLIC KEY BLOCK-----\n';

const request: WorkerRequest = {
  protocol: 1,
  op: 'fetch',
  releasever: '4.2',
  repos: [
    {
      id: 'qubes-templates-itl',
      name: 'Qubes Templates repository',
      baseurls: ['https://yum.qubes-os.org/r$releasever/templates-itl'],
      metalink: 'https://yum.qubes-os.org/r$releasever/templates-itl/repodata/repomd.xml.metalink',
      gpgcheck: true,
      repoGpgcheck: false,
      keys: [KEY],
    },
  ],
  package: {
    repoid: 'qubes-templates-itl',
    name: 'qubes-template-fedora-40',
    epoch: 0,
    version: '4.2.0',
    release: '202406151200',
  },
  allowedFiles: ['template.conf', 'root.img'],
};

function payloadOf(frame: Uint8Array): Uint8Array {
  return frame.subarray(8);
}

function schemaError(fn: () => unknown): ParseError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ParseError);
    return error as ParseError;
  }
  throw new Error('accepted');
}

const listing: PackageListing = {
  name: 'qubes-template-debian-12',
  epoch: 0,
  version: '4.2.0',
  release: '202401011200',
  repoid: 'qubes-templates-itl',
  downloadsize: 1_234_567_890,
  buildtime: 1_704_110_400,
  license: 'GPL-2.0-or-later AND MIT | Apache-2.0',
  url: 'https://www.qubes-os.org/',
  summary: 'Debian 12 | template',
  description: 'Line one | with a pipe\nLine two\twith a tab',
};

describe('WorkerRequest', () => {
  it('round trips through encodeRequest/decodeRequest', () => {
    expect(decodeRequest(payloadOf(encodeRequest(request)))).toEqual(request);
  });

  const bad: [string, unknown, string][] = [
    ['unknown key', { ...request, extra: 1 }, 'extra'],
    ['protocol 2', { ...request, protocol: 2 }, 'protocol:'],
    ['unknown op', { ...request, op: 'install' }, 'op:'],
    ['fetch without package', { ...request, package: undefined }, 'package: required'],
    ['query with package', { ...request, op: 'query' }, 'package: not allowed'],
    ['resumeFrom on fetch', { ...request, resumeFrom: 5 }, 'resumeFrom:'],
    ['negative resumeFrom', { ...request, op: 'download', resumeFrom: -1 }, 'resumeFrom:'],
    [
      'file:// baseurl',
      { ...request, repos: [{ ...request.repos[0], baseurls: ['file:///etc/passwd'] }] },
      'repos.0.baseurls.0:',
    ],
    [
      'space in URL',
      { ...request, repos: [{ ...request.repos[0], baseurls: ['http://a b/'] }] },
      'repos.0.baseurls.0:',
    ],
    ['repo id with slash', { ...request, repos: [{ ...request.repos[0], id: 'a/b' }] }, 'repos.0.id:'],
    [
      'no source',
      { ...request, repos: [{ ...request.repos[0], baseurls: [], metalink: undefined }] },
      'repos.0:',
    ],
    ['not a key', { ...request, repos: [{ ...request.repos[0], keys: ['hello'] }] }, 'repos.0.keys.0:'],
    ['key with NUL', { ...request, repos: [{ ...request.repos[0], keys: [KEY + '\0'] }] }, 'repos.0.keys.0:'],
    [
      'package in no repo',
      { ...request, package: { ...request.package, repoid: 'other' } },
      'package.repoid:',
    ],
    [
      'package name with slash',
      { ...request, package: { ...request.package, name: '../x' } },
      'package.name:',
    ],
    [
      'version with dash',
      { ...request, package: { ...request.package, version: '1-2' } },
      'package.version:',
    ],
    ['fractional epoch', { ...request, package: { ...request.package, epoch: 1.5 } }, 'package.epoch:'],
    ['unknown allowed file', { ...request, allowedFiles: ['/etc/shadow'] }, 'allowedFiles.0:'],
    ['duplicate repo ids', { ...request, repos: [request.repos[0], request.repos[0]] }, 'repos.1.id:'],
    ['hello with a repository', { ...request, op: 'hello', package: undefined }, 'op:'],
    [
      'unpack with two repos',
      { ...request, op: 'unpack', repos: [request.repos[0], { ...request.repos[0], id: 'b' }] },
      'repos:',
    ],
  ];
  for (const [what, value, message] of bad) {
    it(`refuses ${what} with path: message`, () => {
      const error = schemaError(() => decodeRequest(new TextEncoder().encode(JSON.stringify(value))));
      expect(error.code).toBe('message.schema');
      expect(error.message).toContain(message);
    });
  }

  it('refuses bytes that are not UTF-8 JSON with message.json', () => {
    for (const bytes of [
      new Uint8Array([0xff, 0xfe]),
      new TextEncoder().encode('{"protocol":1'),
      new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode('{}')]),
    ]) {
      expect(schemaError(() => decodeRequest(bytes)).code).toBe('message.json');
    }
  });

  it('accepts hello with no repository and no package', () => {
    const hello = { protocol: 1, op: 'hello', releasever: '4.2', repos: [] };
    expect(decodeRequest(new TextEncoder().encode(JSON.stringify(hello)))).toEqual(hello);
  });

  it('accepts unpack with one keys-only repository', () => {
    const unpack = {
      protocol: 1,
      op: 'unpack',
      releasever: '4.2',
      repos: [{ id: 'local', baseurls: [], gpgcheck: true, repoGpgcheck: false, keys: [KEY] }],
    };
    expect(decodeRequest(new TextEncoder().encode(JSON.stringify(unpack)))).toEqual(unpack);
  });
});

describe('PackageListing', () => {
  it('keeps pipes, spaces, newlines and tabs where the incumbent broke', () => {
    expect(PackageListingSchema.parse(listing)).toEqual(listing);
  });

  it('refuses control, escape and bidi characters', () => {
    for (const [field, value] of [
      ['license', 'GPL\x1b[31m'],
      ['summary', 'two\nlines'],
      ['summary', 'C1 \x9b control'],
      ['description', 'bell \x07'],
      ['description', 'bidi \u202e override'],
      ['url', 'lone \ud800 surrogate'],
      ['license', 'x'.repeat(MAX_LICENSE_LENGTH + 1)],
    ] as const) {
      const result = PackageListingSchema.safeParse({ ...listing, [field]: value });
      expect(result.success, `${field}=${JSON.stringify(value)}`).toBe(false);
    }
  });

  it('sanitizeText makes any text acceptable and keeps surrogate pairs whole', () => {
    const hostile = 'a\x1b[2Jb\r\n\tc\u202ed\ud800e\x7f\x9b😀';
    const single = sanitizeText(hostile, 100);
    const multi = sanitizeText(hostile, MAX_DESCRIPTION_LENGTH, { multiline: true });
    expect(PackageListingSchema.parse({ ...listing, summary: single, description: multi })).toBeTruthy();
    expect(multi).toContain('\n\tc');
    expect(single).not.toContain('\n');
    expect(single).toContain('😀');
    const cut = sanitizeText('ab😀', 3);
    expect(cut).toBe('ab');
  });
});

describe('worker replies', () => {
  it('METADATA refuses relative, dotted and duplicate paths', () => {
    const base = {
      package: { name: 'qubes-template-x', epoch: 0, version: '1', release: '1', arch: 'noarch' },
      repoid: null,
      files: [{ path: '/var/lib/qubes/vm-templates/x/template.conf', size: 0 }],
    };
    expect(MetadataSchema.parse(base)).toEqual(base);
    for (const files of [
      [{ path: 'relative', size: 0 }],
      [{ path: '/var/lib/../../etc/shadow', size: 0 }],
      [{ path: '/a/./b', size: 0 }],
      [{ path: '/a', size: -1 }],
      [{ path: '/a', size: 2 ** 53 }],
      [
        { path: '/a', size: 1 },
        { path: '/a', size: 1 },
      ],
    ]) {
      expect(MetadataSchema.safeParse({ ...base, files }).success, JSON.stringify(files)).toBe(false);
    }
  });

  it('ERROR codes are dotted lowercase words', () => {
    expect(ErrorFrameSchema.safeParse({ code: 'http.timeout', message: 'x' }).success).toBe(true);
    expect(ErrorFrameSchema.safeParse({ code: 'HTTP', message: 'x' }).success).toBe(false);
    expect(ErrorFrameSchema.safeParse({ code: 'a.b', message: '\x1b]0;pwned\x07' }).success).toBe(false);
  });

  it('decodeJsonFrame validates by type and encodeMessageFrame refuses invalid messages', async () => {
    const bytes = encodeMessageFrame('PROGRESS', { stage: 'download', done: 10, total: 20 });
    for await (const frame of decodeFrames([bytes])) {
      expect(decodeJsonFrame(frame, 'PROGRESS')).toEqual({ stage: 'download', done: 10, total: 20 });
      expect(() => decodeJsonFrame(frame, 'END')).toThrow(
        expect.objectContaining({ code: 'frame.unexpected' }),
      );
    }
    expect(() => encodeMessageFrame('END', { files: -1, bytes: 0 })).toThrow(
      expect.objectContaining({ code: 'message.schema' }),
    );
    const hostile = {
      type: 'END' as const,
      payload: new TextEncoder().encode('{"files":0,"bytes":0,"__proto__":{}}'),
    };
    expect(() => decodeJsonFrame(hostile, 'END')).toThrow(
      expect.objectContaining({ code: 'message.schema' }),
    );
    expect(() => decodeJsonFrame({ type: 'END', payload: encodeFrame('END').subarray(8) }, 'END')).toThrow(
      expect.objectContaining({ code: 'message.json' }),
    );
  });
});

describe('repomd evidence in QUERY_RESULT and minRevision in the request', () => {
  const evidence = { repoid: 'r', repomd: Buffer.from('<repomd/>').toString('base64'), signature: null };

  it('QUERY_RESULT carries one evidence entry per repository, with canonical padded base64', () => {
    expect(QueryResultSchema.safeParse({ packages: [], repomd: [evidence] }).success).toBe(true);
    expect(QueryResultSchema.safeParse({ packages: [] }).success).toBe(false);
    for (const repomd of ['PHJlcG9tZC8-', 'PHJlcG9tZC8', 'PHJl cG9t', 'QQ=', '====']) {
      expect(RepomdEvidenceSchema.safeParse({ ...evidence, repomd }).success, repomd).toBe(false);
    }
    const tooBig = Buffer.alloc(MAX_REPOMD_EVIDENCE_BYTES + 3).toString('base64');
    expect(RepomdEvidenceSchema.safeParse({ ...evidence, repomd: tooBig }).success).toBe(false);
    const longSignature = 'A'.repeat(MAX_REPOMD_SIGNATURE_EVIDENCE_LENGTH + 1);
    expect(RepomdEvidenceSchema.safeParse({ ...evidence, signature: longSignature }).success).toBe(false);
    expect(RepomdEvidenceSchema.safeParse({ ...evidence, signature: 'sig\x1b[2J' }).success).toBe(false);
  });

  it('minRevision is a canonical decimal number of at most MAX_REPOMD_REVISION_DIGITS digits', () => {
    const repo = request.repos[0]!;
    for (const minRevision of ['0', '1717171717', '9'.repeat(MAX_REPOMD_REVISION_DIGITS)])
      expect(RepoConfigSchema.safeParse({ ...repo, minRevision }).success, minRevision).toBe(true);
    for (const minRevision of ['', '01', '-1', '1.5', ' 1', '9'.repeat(MAX_REPOMD_REVISION_DIGITS + 1)])
      expect(RepoConfigSchema.safeParse({ ...repo, minRevision }).success, minRevision).toBe(false);
  });
});
