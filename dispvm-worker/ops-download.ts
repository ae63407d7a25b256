/**
 * Operations download and header. download sends HEAD (always whole, so the orchestrator can
 * verify it) and then the compressed payload as it is in the package, from `resumeFrom` on:
 * no decompression here, the orchestrator checks PAYLOADDIGEST from the signed header. header
 * sends only HEAD, fetched with one Range request.
 */
import type { WorkerRequest } from '../protocol/messages.ts';
import { WorkerError } from './errors.ts';
import { fetchStream } from './http-fetch.ts';
import type { FrameWriter } from './ops-output.ts';
import { downloadHead, downloadPackage, readCheckedHead, readerOf, resolvePackage } from './ops-package.ts';
import { repoHttpOptions, type RepoContext } from './repo-client.ts';

export async function runHeader(request: WorkerRequest, ctx: RepoContext, out: FrameWriter): Promise<void> {
  const resolved = await resolvePackage(request, ctx);
  const source = downloadHead(resolved, ctx);
  try {
    const { head } = await readCheckedHead(readerOf(source), resolved.repo.config, request.package);
    await out.raw('HEAD', head.headBytes);
  } finally {
    // Closes the connection: the rest of the range is not needed.
    await source.return(undefined);
  }
  await out.end();
}

export async function runDownload(request: WorkerRequest, ctx: RepoContext, out: FrameWriter): Promise<void> {
  const resolved = await resolvePackage(request, ctx);
  const resumeFrom = request.resumeFrom ?? 0;
  if (resumeFrom === 0) {
    // One transfer: the head, then the payload; the whole package's checksum is checked at the end.
    const { stream, checksum } = downloadPackage(resolved, ctx, out);
    const reader = readerOf(stream);
    const { head } = await readCheckedHead(reader, resolved.repo.config, request.package);
    await out.raw('HEAD', head.headBytes);
    for await (const chunk of reader.rest()) await out.raw('PAYLOAD_DATA', chunk);
    if (!checksum.verified)
      throw new WorkerError('worker.package-checksum', 'package download did not complete');
    await out.end();
    return;
  }
  // Resume: the head again (Range from 0), then the payload from its offset.
  const headSource = downloadHead(resolved, ctx);
  let payloadOffset: number;
  try {
    const { head } = await readCheckedHead(readerOf(headSource), resolved.repo.config, request.package);
    await out.raw('HEAD', head.headBytes);
    payloadOffset = head.payloadOffset;
  } finally {
    await headSource.return(undefined);
  }
  const total = resolved.pkg.downloadsize;
  const start = payloadOffset + resumeFrom;
  if (start > total) {
    throw new WorkerError('worker.request', `resumeFrom ${resumeFrom} is past the payload's end`);
  }
  const payload = fetchStream(
    { urls: resolved.urls, offset: start, length: total - start, maxBytes: total - start },
    repoHttpOptions(resolved.repo.config, ctx),
  );
  let done = start;
  for await (const chunk of payload) {
    await out.raw('PAYLOAD_DATA', chunk);
    done += chunk.length;
    await out.progress({ stage: 'download', done, total });
  }
  await out.end();
}
