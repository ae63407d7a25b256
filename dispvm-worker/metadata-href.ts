/**
 * Checks of location hrefs in repository metadata (repomd.xml data entries, primary.xml
 * packages). dnf (librepo) resolves a relative href against the repository URL and writes the
 * file below its cache directory, and refuses hrefs that would climb out of it (librepo's fix
 * for CVE-2020-14352). We refuse the same shapes up front, and absolute URLs unless the caller
 * allows them (xml:base and absolute package locations are legal rpm-md but point anywhere).
 */
import { ParseError } from '../protocol/index.ts';
import type { ErrorCode } from '../protocol/error-codes.ts';

/** Longest href accepted. */
export const MAX_HREF_LENGTH = 2048;

export interface HrefOptions {
  /** Accept http:// and https:// URLs as well as relative paths. */
  readonly allowAbsoluteUrl?: boolean;
}

/**
 * Returns the href unchanged if it is a plain relative path (no '..' or '.' segment, no leading
 * '/', no backslash, query, fragment or control character), or an allowed absolute URL; throws
 * ParseError with `code` otherwise.
 */
export function checkHref(href: string, code: ErrorCode, offset: number, options: HrefOptions = {}): string {
  if (href.length === 0) throw new ParseError(code, 'empty href', offset);
  if (href.length > MAX_HREF_LENGTH)
    throw new ParseError(code, `href longer than ${MAX_HREF_LENGTH}`, offset);
  if (/[\x00-\x20\x7f\\]/.test(href))
    throw new ParseError(code, 'href contains whitespace, controls or \\', offset);
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(href)) {
    if (options.allowAbsoluteUrl !== true) throw new ParseError(code, 'absolute URL href refused', offset);
    let url: URL;
    try {
      url = new URL(href);
    } catch (cause) {
      throw new ParseError(code, 'href is not a valid URL', offset, { cause });
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new ParseError(code, `href scheme ${url.protocol} refused`, offset);
    }
    if (url.username !== '' || url.password !== '')
      throw new ParseError(code, 'href carries credentials', offset);
    return href;
  }
  if (href.startsWith('/')) throw new ParseError(code, 'absolute path href refused', offset);
  if (/[?#%]/.test(href)) throw new ParseError(code, 'href with query, fragment or escapes refused', offset);
  const segments = href.split('/');
  if (segments.some((s) => s === '..' || s === '.' || s === '')) {
    throw new ParseError(code, "href with '..', '.' or empty segments refused", offset);
  }
  return href;
}
