/**
 * The pax keywords of the root-image member (POSIX.1-2017 pax; GNU tar manual, "Storing Sparse
 * Files" for GNU.sparse.*): which sparse format (0.0, 0.1, 1.0) they describe and whether they
 * contradict each other.
 */
import { ParseError } from './errors.ts';
import { parseDecimal, paxText, type PaxRecord } from './pax-header.ts';
import { MAX_PAX_HEADER_SIZE, type SparseTarLimits } from './sparse-limits.ts';

/** The pax keywords this reader acts on; see interpretPax. */
export interface PaxInfo {
  path?: string;
  size?: number;
  major?: number;
  minor?: number;
  sparseName?: string;
  realsize?: number;
  sparseSize?: number;
  numblocks?: number;
  map?: PaxRecord;
  /** GNU.sparse.offset / GNU.sparse.numbytes pairs of pax sparse 0.0, in record order. */
  pairs: { offset: number; numbytes: number; at: number }[];
  anySparse: boolean;
}

/** Keywords that GNU tar defines but that would change how the archive reads (multi-volume, dumpdir). */
const REFUSED_GNU_PREFIX = 'GNU.';

export function interpretPax(records: readonly PaxRecord[], limits: SparseTarLimits): PaxInfo {
  const info: PaxInfo = { pairs: [], anySparse: false };
  const seen = new Set<string>();
  let pendingOffset: { value: number; at: number } | null = null;
  const maxArchived = limits.maxImageSize + MAX_PAX_HEADER_SIZE;
  for (const record of records) {
    const { keyword, offset: at } = record;
    const repeatable = keyword === 'GNU.sparse.offset' || keyword === 'GNU.sparse.numbytes';
    if (!repeatable) {
      if (seen.has(keyword))
        throw new ParseError('sparse.pax-conflict', `pax keyword ${keyword} repeated`, at);
      seen.add(keyword);
    }
    if (keyword.startsWith('GNU.sparse.')) info.anySparse = true;
    const decimal = (max: number): number => parseDecimal(paxText(record), max, 'sparse.pax-value', at);
    switch (keyword) {
      case 'path':
        info.path = paxText(record);
        break;
      case 'size':
        info.size = decimal(maxArchived);
        break;
      case 'GNU.sparse.major':
        info.major = decimal(9);
        break;
      case 'GNU.sparse.minor':
        info.minor = decimal(9);
        break;
      case 'GNU.sparse.name':
        info.sparseName = paxText(record);
        break;
      case 'GNU.sparse.realsize':
        info.realsize = decimal(limits.maxImageSize);
        break;
      case 'GNU.sparse.size':
        info.sparseSize = decimal(limits.maxImageSize);
        break;
      case 'GNU.sparse.numblocks': {
        const n = parseDecimal(paxText(record), Number.MAX_SAFE_INTEGER, 'sparse.pax-value', at);
        if (n > limits.maxExtents) {
          throw new ParseError(
            'sparse.extent-count',
            `sparse map of ${n} entries exceeds ${limits.maxExtents}`,
            at,
          );
        }
        info.numblocks = n;
        break;
      }
      case 'GNU.sparse.map':
        info.map = record;
        break;
      case 'GNU.sparse.offset':
        if (pendingOffset !== null)
          throw new ParseError('sparse.sparse-map', 'GNU.sparse.offset without numbytes', at);
        pendingOffset = { value: decimal(limits.maxImageSize), at };
        break;
      case 'GNU.sparse.numbytes':
        if (pendingOffset === null)
          throw new ParseError('sparse.sparse-map', 'GNU.sparse.numbytes without offset', at);
        if (info.pairs.length >= limits.maxExtents) {
          throw new ParseError('sparse.extent-count', `sparse map exceeds ${limits.maxExtents} entries`, at);
        }
        info.pairs.push({
          offset: pendingOffset.value,
          numbytes: decimal(limits.maxImageSize),
          at: pendingOffset.at,
        });
        pendingOffset = null;
        break;
      default:
        if (keyword.startsWith(REFUSED_GNU_PREFIX)) {
          throw new ParseError('sparse.pax-keyword', `pax keyword ${keyword} refused`, at);
        }
      // Other keywords (mtime, atime, ctime, uid, gid, uname, gname, SCHILY.*, ...) do not
      // affect the image bytes; POSIX says unknown keywords are ignored.
    }
  }
  if (pendingOffset !== null) {
    throw new ParseError('sparse.sparse-map', 'GNU.sparse.offset without numbytes', pendingOffset.at);
  }
  return info;
}

export function sparseFormatOf(info: PaxInfo, at: number): 'pax-0.0' | 'pax-0.1' | 'pax-1.0' {
  const conflict = (what: string): never => {
    throw new ParseError('sparse.pax-conflict', what, at);
  };
  let format: 'pax-0.0' | 'pax-0.1' | 'pax-1.0';
  if (info.major !== undefined || info.minor !== undefined) {
    const version = `${info.major ?? '?'}.${info.minor ?? '?'}`;
    if (version === '1.0') format = 'pax-1.0';
    else if (version === '0.1') format = 'pax-0.1';
    else if (version === '0.0') format = 'pax-0.0';
    else throw new ParseError('sparse.sparse-version', `unsupported pax sparse version ${version}`, at);
  } else if (info.map !== undefined) format = 'pax-0.1';
  else if (info.numblocks !== undefined || info.pairs.length > 0) format = 'pax-0.0';
  else throw new ParseError('sparse.sparse-version', 'GNU.sparse keywords without a sparse map', at);

  const hasPairs = info.pairs.length > 0;
  if (format === 'pax-1.0') {
    if (info.realsize === undefined) conflict('pax sparse 1.0 without GNU.sparse.realsize');
    if (info.sparseSize !== undefined || info.numblocks !== undefined || info.map !== undefined || hasPairs) {
      conflict('pax sparse 1.0 with 0.x map keywords');
    }
  } else {
    if (info.sparseSize === undefined || info.numblocks === undefined) {
      conflict('pax sparse 0.x without GNU.sparse.size and GNU.sparse.numblocks');
    }
    if (info.realsize !== undefined) conflict('pax sparse 0.x with GNU.sparse.realsize');
    if (format === 'pax-0.1' && (info.map === undefined || hasPairs))
      conflict('pax sparse 0.1 needs exactly GNU.sparse.map');
    if (format === 'pax-0.0' && info.map !== undefined) conflict('pax sparse 0.0 with GNU.sparse.map');
  }
  return format;
}
