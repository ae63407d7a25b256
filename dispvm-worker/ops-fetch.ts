/**
 * Operations fetch (download from the repository) and unpack (the .rpm arrives on stdin): HEAD,
 * METADATA, then the allowed files one by one as the payload streams through decompression and
 * cpio. Nothing is stored: a template package is bigger than a disposable's /tmp.
 *
 * Allowed files are regular files directly in /var/lib/qubes/vm-templates/NAME/: template.conf,
 * the three appmenu lists and the root.img parts as split -d names them (QUBES.md, template RPM
 * layout). Everything else, scriptlets included, is read through its digest check and dropped.
 */
import type { Logger } from 'pino';
import type { AllowedFileKind, FileAnnouncement, WorkerRequest } from '../protocol/messages.ts';
import type { PackageInfo, RpmFileEntry } from '../protocol/rpm-types.ts';
import { ALLOWED_FILE_KINDS } from '../protocol/messages.ts';
import { rootPartIndex } from '../protocol/root-image-parts.ts';
import { WorkerError } from './errors.ts';
import type { FrameWriter } from './ops-output.ts';
import {
  downloadPackage,
  readCheckedHead,
  readerOf,
  resolvePackage,
  type PackageChecksum,
} from './ops-package.ts';
import { RPMFILE_GHOST, unpackPayload } from './payload.ts';
import type { RepoContext } from './repo-client.ts';

/** Where rpm installs a template's files. */
export const TEMPLATES_DIR = '/var/lib/qubes/vm-templates';
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;

function kindOf(basename: string): AllowedFileKind | null {
  // The names split -d gives the parts, the orchestrator's rule too (it refuses any other).
  if (rootPartIndex(basename) !== null) return 'root.img';
  return (ALLOWED_FILE_KINDS as readonly string[]).includes(basename) && basename !== 'root.img'
    ? (basename as AllowedFileKind)
    : null;
}

/** The header's files the worker will send, in header (= payload) order. */
export function selectAllowedFiles(
  info: PackageInfo,
  templateName: string,
  kinds: readonly AllowedFileKind[] = ALLOWED_FILE_KINDS,
): RpmFileEntry[] {
  const dir = `${TEMPLATES_DIR}/${templateName}/`;
  const wanted = new Set(kinds);
  return info.files.filter((f) => {
    if (!f.path.startsWith(dir)) return false;
    const basename = f.path.slice(dir.length);
    if (basename.includes('/')) return false;
    if ((f.mode & S_IFMT) !== S_IFREG || (f.flags & RPMFILE_GHOST) !== 0) return false;
    const kind = kindOf(basename);
    return kind !== null && wanted.has(kind);
  });
}

/** Sends HEAD, METADATA and the allowed files of a package read from `stream`. */
async function sendPackage(
  stream: AsyncIterable<Uint8Array>,
  request: WorkerRequest,
  repoid: string | null,
  out: FrameWriter,
  logger: Logger,
): Promise<void> {
  const repo = request.repos.find((r) => r.id === (repoid ?? request.repos[0]?.id));
  if (repo === undefined) throw new WorkerError('worker.request', 'no repository for the package');
  const reader = readerOf(stream);
  const { head, info, templateName } = await readCheckedHead(reader, repo, request.package);
  logger.info({ package: info.name, version: info.version, release: info.release }, 'header verified');
  await out.raw('HEAD', head.headBytes);
  const files = selectAllowedFiles(info, templateName, request.allowedFiles);
  const announced: FileAnnouncement[] = files.map((f) => ({ path: f.path, size: f.size }));
  await out.json('METADATA', {
    package: {
      name: info.name,
      epoch: info.epoch ?? 0,
      version: info.version,
      release: info.release,
      arch: info.arch,
    },
    repoid,
    files: announced,
  });
  const allowed = new Set(files.map((f) => f.path));
  let unpacked = 0;
  for await (const entry of unpackPayload(info, reader.rest(), { allowedPaths: allowed })) {
    await out.json('FILE_BEGIN', { path: entry.path, size: entry.size });
    for await (const chunk of entry.content) {
      await out.raw('FILE_DATA', chunk);
      unpacked += chunk.length;
      await out.progress({ stage: 'unpack', done: unpacked });
    }
    await out.json('FILE_END', { path: entry.path });
  }
}

/**
 * With gpgcheck, the package checksum of primary.xml is not computed: the header is checked
 * against the repository's keys before anything else, and the payload against the signed
 * header's PAYLOADDIGEST, which unpackPayload requires, over the same compressed bytes; a second
 * digest of them would only cost CPU. Their size is still checked. Without gpgcheck the
 * checksum is what binds the package to the (signed) metadata, and stays.
 */
export async function runFetch(request: WorkerRequest, ctx: RepoContext, out: FrameWriter): Promise<void> {
  const resolved = await resolvePackage(request, ctx);
  await out.progress({ stage: 'metadata', done: 1, total: 1 }, true);
  const { stream, checksum } = downloadPackage(resolved, ctx, out, {
    digest: !resolved.repo.config.gpgcheck,
  });
  await sendPackage(stream, request, resolved.repo.config.id, out, ctx.logger);
  await finishChecksum(stream, checksum);
  await out.end();
}

/**
 * The payload ends where its compressed stream ends; any bytes left after it are still part of
 * the download and of its checksum. Reads them (bounded by the announced size) and checks.
 */
async function finishChecksum(stream: AsyncIterable<Uint8Array>, checksum: PackageChecksum): Promise<void> {
  if (checksum.verified) return;
  for await (const chunk of stream) void chunk;
  if (!checksum.verified)
    throw new WorkerError('worker.package-checksum', 'package download did not complete');
}

export async function runUnpack(
  request: WorkerRequest,
  packageBytes: AsyncIterable<Uint8Array>,
  ctx: RepoContext,
  out: FrameWriter,
): Promise<void> {
  await sendPackage(packageBytes, request, null, out, ctx.logger);
  await out.end();
}
