/**
 * The sparse map of a member: (offset, length) data regions of the real file, everything else
 * a hole. Checked entry by entry as the map is read, so a hostile map fails at the entry that
 * breaks a rule and never grows past the named maximum.
 */
import { ParseError } from './errors.ts';

export interface SparseExtent {
  /** Offset of the region in the real (expanded) file. */
  readonly offset: number;
  readonly length: number;
}

export class ExtentCollector {
  /** Non-empty regions, in order. Zero-length entries (GNU tar's "(realsize, 0)" end marker) are checked, not kept. */
  readonly extents: SparseExtent[] = [];
  /** Sum of region lengths: the bytes the archive must carry for this map. */
  dataSize = 0;
  private entries = 0;
  private previousOffset = 0;
  private previousEnd = 0;

  constructor(
    readonly realSize: number,
    readonly maxEntries: number,
  ) {}

  /** Counts one more map entry against the maximum before it is even decoded. */
  reserve(at: number): void {
    if (this.entries >= this.maxEntries) {
      throw new ParseError('sparse.extent-count', `sparse map has more than ${this.maxEntries} entries`, at);
    }
    this.entries++;
  }

  /** Adds an entry that `reserve` has already counted. `at` is its byte offset in the archive. */
  add(offset: number, length: number, at: number): void {
    if (offset < this.previousOffset) {
      throw new ParseError(
        'sparse.extent-order',
        `sparse region at ${offset} comes after one at ${this.previousOffset}`,
        at,
      );
    }
    if (offset < this.previousEnd) {
      throw new ParseError(
        'sparse.extent-overlap',
        `sparse region at ${offset} overlaps the one ending at ${this.previousEnd}`,
        at,
      );
    }
    if (offset > this.realSize || length > this.realSize - offset) {
      throw new ParseError(
        'sparse.extent-past-size',
        `sparse region ${offset}+${length} ends past the real size ${this.realSize}`,
        at,
      );
    }
    this.previousOffset = offset;
    this.previousEnd = offset + length;
    if (length > 0) {
      this.extents.push({ offset, length });
      this.dataSize += length;
    }
  }

  /** `reserve` then `add`. */
  push(offset: number, length: number, at: number): void {
    this.reserve(at);
    this.add(offset, length, at);
  }
}
