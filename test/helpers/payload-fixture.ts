import { createReadStream } from 'node:fs';
import { ByteReader } from '../../protocol/byte-reader.ts';
import { packageInfo } from '../../protocol/rpm-info.ts';
import { readPackageHead } from '../../protocol/rpm-package.ts';
import type { PackageInfo } from '../../protocol/rpm-types.ts';

/** A package file's header info and a stream of its payload (the bytes after the head). */
export async function openPackage(
  pkgPath: string,
): Promise<{ info: PackageInfo; payload: AsyncIterable<Uint8Array>; payloadOffset: number }> {
  const reader = new ByteReader(createReadStream(pkgPath, { highWaterMark: 1024 * 1024 }));
  const head = await readPackageHead(reader);
  return { info: packageInfo(head.header), payload: reader.rest(), payloadOffset: head.payloadOffset };
}
