/**
 * What fetch, unpack, download and header share: find the package in its repository, open its
 * bytes (download or stdin), read the head, check the header signature BEFORE anything looks at
 * the payload, and check that the signed header names the package that was asked for.
 */
import { createHash, type Hash } from 'node:crypto';
import type * as openpgp from 'openpgp';
import { ByteReader } from '../protocol/byte-reader.ts';
import { MAX_HEAD_FRAME_LENGTH } from '../protocol/limits.ts';
import type { PackageRef, RepoConfig, WorkerRequest } from '../protocol/messages.ts';
import { readPackageHead, type PackageHead } from '../protocol/rpm-package.ts';
import { packageInfo } from '../protocol/rpm-info.ts';
import { verifyHeaderSignature } from '../protocol/rpm-signature.ts';
import type { PackageInfo } from '../protocol/rpm-types.ts';
import { TEMPLATE_PACKAGE_PREFIX } from '../protocol/spec-match.ts';
import { WorkerError } from './errors.ts';
import { fetchStream } from './http-fetch.ts';
import type { FrameWriter } from './ops-output.ts';
import type { PrimaryPackage } from './primary.ts';
import {
  loadRepository,
  packageUrls,
  readRepoKeys,
  repoHttpOptions,
  type LoadedRepository,
  type RepoContext,
} from './repo-client.ts';

export interface ResolvedPackage {
  readonly repo: LoadedRepository;
  readonly pkg: PrimaryPackage;
  readonly urls: readonly string[];
}

/** Finds the requested package in its repository's metadata. */
export async function resolvePackage(request: WorkerRequest, ctx: RepoContext): Promise<ResolvedPackage> {
  const ref = request.package as PackageRef;
  const config = request.repos.find((r) => r.id === ref.repoid) as RepoConfig;
  const repo = await loadRepository(config, ctx);
  const pkg = repo.packages.find(
    (p) =>
      p.name === ref.name && p.epoch === ref.epoch && p.version === ref.version && p.release === ref.release,
  );
  if (pkg === undefined) {
    throw new WorkerError(
      'worker.not-found',
      `${ref.name}-${ref.epoch}:${ref.version}-${ref.release} is not in repository ${ref.repoid}`,
    );
  }
  return { repo, pkg, urls: packageUrls(repo, pkg) };
}

/**
 * Passes bytes through and checks, when they end, their count against primary.xml's
 * (size@package) and, unless `digest` is off, their digest against the package checksum.
 * `verified` tells whether the end was reached.
 */
export class PackageChecksum {
  readonly #hash: Hash | null;
  readonly #pkg: PrimaryPackage;
  bytes = 0;
  verified = false;

  constructor(pkg: PrimaryPackage, options: { digest?: boolean } = {}) {
    this.#pkg = pkg;
    this.#hash = options.digest === false ? null : createHash(pkg.checksum.type);
  }

  async *pass(
    source: AsyncIterable<Uint8Array>,
    onBytes?: (total: number) => Promise<void>,
  ): AsyncGenerator<Uint8Array> {
    for await (const chunk of source) {
      this.#hash?.update(chunk);
      this.bytes += chunk.length;
      if (onBytes !== undefined) await onBytes(this.bytes);
      yield chunk;
    }
    if (this.bytes !== this.#pkg.downloadsize) {
      throw new WorkerError(
        'worker.package-size',
        `package is ${this.bytes} bytes, the repository says ${this.#pkg.downloadsize}`,
      );
    }
    if (this.#hash !== null && this.#hash.digest('hex') !== this.#pkg.checksum.value) {
      throw new WorkerError(
        'worker.package-checksum',
        `package ${this.#pkg.checksum.type} does not match primary.xml`,
      );
    }
    this.verified = true;
  }
}

/**
 * Opens a download of the whole package, with progress and the primary.xml checks. `digest`
 * false leaves out the package checksum, for a fetch whose every byte something signed binds
 * already (ops-fetch.ts): each byte is hashed once.
 */
export function downloadPackage(
  resolved: ResolvedPackage,
  ctx: RepoContext,
  out: FrameWriter,
  options: { digest?: boolean } = {},
): { stream: AsyncIterable<Uint8Array>; checksum: PackageChecksum } {
  const { pkg } = resolved;
  const checksum = new PackageChecksum(pkg, options);
  const source = fetchStream(
    { urls: resolved.urls, length: pkg.downloadsize, maxBytes: pkg.downloadsize },
    repoHttpOptions(resolved.repo.config, ctx),
  );
  const stream = checksum.pass(source, (done) =>
    out.progress({ stage: 'download', done, total: pkg.downloadsize }),
  );
  return { stream, checksum };
}

/**
 * First Range asked for when only the head is wanted: template headers (a few dozen files, a
 * changelog) fit in far less; a bigger head is fetched on with a second request up to the limit.
 */
export const HEAD_PROBE_BYTES = 256 * 1024;

/**
 * The package's first bytes, fetched lazily with Range requests: HEAD_PROBE_BYTES, then (only if
 * the reader wants more) up to MAX_HEAD_FRAME_LENGTH. return() closes the open request.
 */
export async function* downloadHead(resolved: ResolvedPackage, ctx: RepoContext): AsyncGenerator<Uint8Array> {
  let offset = 0;
  for (const limit of [HEAD_PROBE_BYTES, MAX_HEAD_FRAME_LENGTH]) {
    const end = Math.min(limit, resolved.pkg.downloadsize);
    if (end <= offset) return;
    yield* fetchStream(
      { urls: resolved.urls, offset, length: end - offset, maxBytes: end - offset },
      repoHttpOptions(resolved.repo.config, ctx),
    );
    offset = end;
  }
}

export interface CheckedHead {
  readonly head: PackageHead;
  readonly info: PackageInfo;
  /** The template's name: the package name without qubes-template-. */
  readonly templateName: string;
}

/**
 * Reads the head from `reader`, verifies the header signature with the repository's keys
 * (unless gpgcheck is off), then reads PackageInfo from the verified header and checks that it
 * is the package that was asked for.
 */
export async function readCheckedHead(
  reader: ByteReader,
  repo: RepoConfig,
  expected: PackageRef | undefined,
): Promise<CheckedHead> {
  const head = await readPackageHead(reader);
  if (head.headBytes.length > MAX_HEAD_FRAME_LENGTH) {
    throw new WorkerError('worker.head-too-large', `package head of ${head.headBytes.length} bytes`);
  }
  if (repo.gpgcheck) {
    const keys: openpgp.PublicKey[] = await readRepoKeys(repo);
    if (keys.length === 0) {
      throw new WorkerError('worker.no-keys', `repository ${repo.id}: gpgcheck is on but no key is given`);
    }
    await verifyHeaderSignature(head, keys);
  } else {
    await verifyHeaderSignature(head, [], { allowUnsigned: true });
  }
  const info = packageInfo(head.header);
  if (!info.name.startsWith(TEMPLATE_PACKAGE_PREFIX) || info.name.length === TEMPLATE_PACKAGE_PREFIX.length) {
    throw new WorkerError('worker.package-identity', `${info.name} is not a template package`);
  }
  if (expected !== undefined) {
    const same =
      info.name === expected.name &&
      (info.epoch ?? 0) === expected.epoch &&
      info.version === expected.version &&
      info.release === expected.release;
    if (!same) {
      throw new WorkerError(
        'worker.package-identity',
        `the signed header is ${info.name}-${info.epoch ?? 0}:${info.version}-${info.release}, ` +
          `not the requested ${expected.name}-${expected.epoch}:${expected.version}-${expected.release}`,
      );
    }
  }
  return { head, info, templateName: info.name.slice(TEMPLATE_PACKAGE_PREFIX.length) };
}

/** A reader over a stream, for readPackageHead. */
export function readerOf(stream: AsyncIterable<Uint8Array>): ByteReader {
  return new ByteReader(stream);
}
