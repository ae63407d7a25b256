/**
 * A byte array cut into slices of one size, as a stream reader may be handed it, for the tests
 * of decoders that must not depend on where their input is cut (frames, worker replies).
 * cpio-builder.ts has the asynchronous form and concat.
 */

/** `bytes` in slices of `size` bytes (the last one shorter), views of the same buffer. */
export function* chunked(bytes: Uint8Array, size: number): Generator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}
