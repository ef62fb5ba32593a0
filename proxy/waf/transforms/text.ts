/**
 * Character-level normalisers: lowercase, NUL and whitespace handling, trim,
 * length, none. The regular expressions here are single character classes
 * (at most one quantifier), so they run in linear time natively.
 */
import { StringBuilder, isSpace } from "./support.js";

export function none(s: string): string {
  return s;
}

/** Anything toLowerCase could change: ASCII capitals or a unit above Latin-1. */
const MAY_LOWER = /[A-Z\u0100-\uffff]/;
/** Latin-1 capitals; in a latin1 byte string they are UTF-8 lead bytes (0xC3 = Ã) and must stay. */
const LATIN1_UPPER = /[\u00c0-\u00de]/g;

/**
 * ASCII letters are lowered as ModSecurity does (C locale). Units above 0xFF
 * are text and get Unicode lowering (the Kelvin sign K becomes k); units
 * 0x80-0xFF are left alone because they may be UTF-8 bytes.
 */
export function lowercase(s: string): string {
  if (!MAY_LOWER.test(s)) return s;
  LATIN1_UPPER.lastIndex = 0;
  let m = LATIN1_UPPER.exec(s);
  if (m === null) return s.toLowerCase();
  const out = new StringBuilder();
  let last = 0;
  while (m !== null) {
    const k = m.index;
    if (k > last) out.add(s.slice(last, k).toLowerCase());
    out.add(s[k]);
    last = k + 1;
    m = LATIN1_UPPER.exec(s);
  }
  if (last < s.length) out.add(s.slice(last).toLowerCase());
  return out.done();
}

export function removeNulls(s: string): string {
  return s.indexOf("\0") < 0 ? s : s.replaceAll("\0", "");
}

export function replaceNulls(s: string): string {
  return s.indexOf("\0") < 0 ? s : s.replaceAll("\0", " ");
}

/** Something compress_whitespace would change: a non-space whitespace char or two spaces in a row. */
const WS_TO_COMPRESS = /[\t\n\v\f\r\u00a0]| {2}/;
const WS_RUN = /[ \t\n\v\f\r\u00a0]+/g;
const WS_ANY = /[ \t\n\v\f\r\u00a0]/;
const WS_EACH = /[ \t\n\v\f\r\u00a0]/g;

/** Runs of whitespace (space, \t \n \v \f \r, NBSP) become one space. */
export function compressWhitespace(s: string): string {
  return WS_TO_COMPRESS.test(s) ? s.replace(WS_RUN, " ") : s;
}

export function removeWhitespace(s: string): string {
  return WS_ANY.test(s) ? s.replace(WS_EACH, "") : s;
}

/** Whitespace (the same set) removed from both ends. */
export function trim(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && isSpace(s.charCodeAt(start))) start++;
  while (end > start && isSpace(s.charCodeAt(end - 1))) end--;
  return start === 0 && end === s.length ? s : s.slice(start, end);
}

/** The length in code units (bytes for latin1 values), as a decimal string. */
export function length(s: string): string {
  return String(s.length);
}
