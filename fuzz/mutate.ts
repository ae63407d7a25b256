/**
 * Byte mutations in the manner of libFuzzer's and AFL's havoc stage: bit flips, interesting
 * integers at random offsets (both byte orders: RPM and tar numbers are big-endian), deletions,
 * duplications, dictionary tokens and splices with another corpus entry. A seeded PRNG makes a
 * run repeatable with --seed.
 */

/** xorshift32: small, fast, seedable. */
export class Random {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0 || 0x9e3779b9;
  }

  next(): number {
    let x = this.#state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#state = x >>> 0;
    return this.#state;
  }

  /** 0 <= n < bound (bound >= 1). */
  below(bound: number): number {
    return this.next() % Math.max(1, bound);
  }

  pick<T>(items: readonly T[]): T | undefined {
    return items[this.below(items.length)];
  }
}

const INTERESTING_8 = [0, 1, 0x7f, 0x80, 0xff, 0x30, 0x37, 0x20, 0x0a, 0x3d];
const INTERESTING_32 = [
  0, 1, 8, 16, 96, 511, 512, 4096, 0x7fff, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff,
];

/** Most havoc operations stacked on one input. */
export const MAX_STACKED_MUTATIONS = 6;

const encoder = new TextEncoder();

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function insert(bytes: Uint8Array, at: number, piece: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length + piece.length);
  out.set(bytes.subarray(0, at));
  out.set(piece, at);
  out.set(bytes.subarray(at), at + piece.length);
  return out;
}

function mutateOnce(
  input: Uint8Array,
  rng: Random,
  dictionary: readonly Uint8Array[],
  other: Uint8Array | undefined,
): Uint8Array {
  let bytes = input;
  const at = rng.below(bytes.length + 1);
  switch (rng.below(11)) {
    case 0: // flip a bit
      if (bytes.length > 0) {
        const i = rng.below(bytes.length);
        bytes[i] = (bytes[i] ?? 0) ^ (1 << rng.below(8));
      }
      break;
    case 1: // interesting byte
      if (bytes.length > 0) bytes[rng.below(bytes.length)] = rng.pick(INTERESTING_8) ?? 0;
      break;
    case 2: // random byte
      if (bytes.length > 0) bytes[rng.below(bytes.length)] = rng.below(256);
      break;
    case 3: {
      // interesting 32-bit number, either byte order, or a small delta of the one there
      if (bytes.length < 4) break;
      const i = rng.below(bytes.length - 3);
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const littleEndian = rng.below(4) === 0;
      const value =
        rng.below(2) === 0
          ? (rng.pick(INTERESTING_32) ?? 0)
          : (view.getUint32(i, littleEndian) + rng.below(33) - 16) >>> 0;
      view.setUint32(i, value, littleEndian);
      break;
    }
    case 4: {
      // ASCII digit run (tar octal fields, pax lengths, decimal values)
      const digits = String(rng.below(2) === 0 ? rng.below(1000) : rng.next());
      bytes = insert(bytes, at, encoder.encode(digits));
      break;
    }
    case 5: // delete a range
      if (bytes.length > 0) {
        const length = 1 + rng.below(Math.min(64, bytes.length - at + 1));
        bytes = concat(bytes.subarray(0, at), bytes.subarray(at + length));
      }
      break;
    case 6: {
      // duplicate a range
      if (bytes.length === 0) break;
      const from = rng.below(bytes.length);
      const length = 1 + rng.below(Math.min(128, bytes.length - from));
      bytes = insert(bytes, at, bytes.slice(from, from + length));
      break;
    }
    case 7: // insert random bytes
      bytes = insert(
        bytes,
        at,
        Uint8Array.from({ length: 1 + rng.below(8) }, () => rng.below(256)),
      );
      break;
    case 8: {
      // dictionary token, inserted or overwriting
      const token = rng.pick(dictionary);
      if (token === undefined) break;
      if (rng.below(2) === 0 || at + token.length > bytes.length) bytes = insert(bytes, at, token);
      else bytes.set(token, at);
      break;
    }
    case 9: // truncate
      bytes = bytes.subarray(0, at);
      break;
    default: {
      // splice: our head, the other's tail
      if (other === undefined || other.length === 0) break;
      const from = rng.below(other.length);
      bytes = concat(bytes.subarray(0, at), other.subarray(from));
    }
  }
  return bytes;
}

/** A mutated copy of `input`, at most `maxBytes` long. */
export function mutate(
  input: Uint8Array,
  rng: Random,
  opts: { dictionary: readonly Uint8Array[]; other?: Uint8Array; maxBytes: number },
): Uint8Array {
  let bytes: Uint8Array = new Uint8Array(input);
  const rounds = 1 + rng.below(MAX_STACKED_MUTATIONS);
  for (let i = 0; i < rounds; i++) bytes = mutateOnce(bytes, rng, opts.dictionary, opts.other);
  return bytes.length > opts.maxBytes ? bytes.slice(0, opts.maxBytes) : bytes;
}
