/**
 * Named limits of the sparse root-image tar reader. The image arrives from an untrusted package,
 * so every length in it is checked against one of these before anything is read or allocated.
 */

/** Largest real (expanded) image size accepted: 1 TiB. */
export const MAX_IMAGE_SIZE = 2 ** 40;
/**
 * Most sparse map entries accepted. GNU tar maps a data region per filesystem extent, so a
 * 20 GiB ext4 root image has thousands; 2^18 entries keep the map under ~16 MiB in memory.
 */
export const MAX_SPARSE_EXTENTS = 2 ** 18;
/** Largest GNU long name ('L' member data, NUL included); Linux PATH_MAX. */
export const MAX_LONG_NAME_SIZE = 4096;
/** Largest pax extended header ('x' member data); bounds pax 0.0/0.1 maps too. */
export const MAX_PAX_HEADER_SIZE = 2 ** 20;
/** Zero bytes accepted after the two end-of-archive blocks (GNU tar pads to its record size, 10240 by default). */
export const MAX_END_PADDING = 2 ** 20;
/** Digits of one pax 1.0 map line (a decimal offset below 2^53 has at most 16). */
export const MAX_MAP_LINE_DIGITS = 16;

/** The limits in force for one read (the caller may only lower them). */
export interface SparseTarLimits {
  readonly maxImageSize: number;
  readonly maxExtents: number;
}
