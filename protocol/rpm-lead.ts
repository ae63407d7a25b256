/**
 * The 96-byte RPM lead (RPM file format, "Lead"). The lead is a relic: nothing in it is signed,
 * and rpm itself (lib/rpmlead.c, rpmLeadCheck) checks only the magic, the major version (3 or 4)
 * and the signature type (5, "header-style signature"). tmpl checks exactly those bytes so that it
 * accepts and refuses the same files as `rpmkeys --checksig`; the other fields are reported but
 * never trusted.
 */
import { ParseError } from './errors.ts';

export const LEAD_SIZE = 96;
export const LEAD_MAGIC = Uint8Array.of(0xed, 0xab, 0xee, 0xdb);
/** RPMSIGTYPE_HEADERSIG: a signature header follows the lead. */
export const LEAD_SIGNATURE_TYPE_HEADERSIG = 5;

export interface RpmLead {
  readonly major: number;
  readonly minor: number;
  /** 0 binary, 1 source (unchecked, as in rpm). */
  readonly type: number;
  readonly archnum: number;
  /** Up to 66 bytes, NUL-terminated when shorter; decoded as latin1 for display only. */
  readonly name: string;
  readonly osnum: number;
  readonly signatureType: number;
}

/** Parses the lead from the first LEAD_SIZE bytes of `bytes`. `base` is their offset in the file. */
export function parseLead(bytes: Uint8Array, base = 0): RpmLead {
  if (bytes.length < LEAD_SIZE) {
    throw new ParseError('rpm.lead.truncated', `lead needs ${LEAD_SIZE} bytes`, base + bytes.length);
  }
  for (let i = 0; i < LEAD_MAGIC.length; i++) {
    if (bytes[i] !== LEAD_MAGIC[i]) {
      throw new ParseError('rpm.lead.magic', 'not an rpm package (bad lead magic)', base + i);
    }
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, LEAD_SIZE);
  const major = view.getUint8(4);
  if (major < 3 || major > 4) {
    throw new ParseError('rpm.lead.version', `unsupported rpm package version ${major}`, base + 4);
  }
  const signatureType = view.getUint16(78);
  if (signatureType !== LEAD_SIGNATURE_TYPE_HEADERSIG) {
    throw new ParseError(
      'rpm.lead.signature-type',
      `illegal lead signature type ${signatureType}`,
      base + 78,
    );
  }
  const nameBytes = bytes.subarray(10, 76);
  const nul = nameBytes.indexOf(0);
  return {
    major,
    minor: view.getUint8(5),
    type: view.getUint16(6),
    archnum: view.getUint16(8),
    name: new TextDecoder('latin1').decode(nul === -1 ? nameBytes : nameBytes.subarray(0, nul)),
    osnum: view.getUint16(76),
    signatureType,
  };
}
