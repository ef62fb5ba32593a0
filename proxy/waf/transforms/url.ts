/**
 * URL decoders (url_decode, url_decode_uni) and utf8_to_unicode.
 * `%XX` yields the code unit XX (a byte, latin1 semantic): nothing here
 * UTF-8-decodes, so a rule sees exactly the bytes the application will.
 */
import { StringBuilder, hex4, hexValue } from "./support.js";

const PLUS = "+";

/** %uXXXX as IIS/ModSecurity read it: the low byte, except full-width ASCII which maps to ASCII. */
function uniUnit(v: number): number {
  return v >= 0xff01 && v <= 0xff5e ? v - 0xfee0 : v & 0xff;
}

function decodePercent(s: string, uni: boolean): string {
  let pct = s.indexOf("%");
  let plus = s.indexOf(PLUS);
  if (pct < 0 && plus < 0) return s;
  const n = s.length;
  const out = new StringBuilder();
  let last = 0;
  while (pct >= 0 || plus >= 0) {
    if (plus >= 0 && (pct < 0 || plus < pct)) {
      out.addRange(s, last, plus);
      out.unit(0x20);
      last = plus + 1;
      plus = s.indexOf(PLUS, last);
      continue;
    }
    const k = pct;
    let code = -1;
    let len = 0;
    if (uni && (s.charCodeAt(k + 1) | 0x20) === 0x75) {
      const v = hex4(s, k + 2);
      if (v >= 0) {
        code = uniUnit(v);
        len = 6;
      }
    }
    if (code < 0 && k + 2 < n) {
      const hi = hexValue(s.charCodeAt(k + 1));
      const lo = hexValue(s.charCodeAt(k + 2));
      if (hi >= 0 && lo >= 0) {
        code = (hi << 4) | lo;
        len = 3;
      }
    }
    if (code < 0) {
      // Invalid escape: the '%' stays as it is.
      pct = s.indexOf("%", k + 1);
      continue;
    }
    out.addRange(s, last, k);
    out.unit(code);
    last = k + len;
    pct = s.indexOf("%", last);
    if (plus >= 0 && plus < last) plus = s.indexOf(PLUS, last);
  }
  if (last === 0) return s;
  out.addRange(s, last, n);
  return out.done();
}

/** `+` to space and `%XX` to the byte XX; invalid escapes are kept. */
export function urlDecode(s: string): string {
  return decodePercent(s, false);
}

/** url_decode plus IIS `%uXXXX`. */
export function urlDecodeUni(s: string): string {
  return decodePercent(s, true);
}

const NON_ASCII = /[\u0080-\uffff]/;

function isCont(s: string, at: number): boolean {
  const c = s.charCodeAt(at); // NaN past the end compares false
  return c >= 0x80 && c <= 0xbf;
}

const HEX_DIGITS = "0123456789abcdef";

/** Writes `%u` and the code point in lowercase hex, at least four digits, unit by unit (no temporary strings). */
function writePercentU(out: StringBuilder, cp: number): void {
  out.unit(0x25);
  out.unit(0x75);
  let shift = cp > 0xfffff ? 20 : cp > 0xffff ? 16 : 12;
  for (; shift >= 0; shift -= 4) out.unit(HEX_DIGITS.charCodeAt((cp >> shift) & 0xf));
}

/**
 * Decodes one UTF-8 sequence held as latin1 units at s[k] (a lead byte 0xC0-0xF4).
 * Returns [code point, length] or null. Overlong forms are accepted on purpose
 * (as ModSecurity does): `%c0%af` becomes `%u002f`, which url_decode_uni turns into `/`.
 */
function utf8At(s: string, k: number, c: number): readonly [number, number] | null {
  if (c >= 0xc0 && c <= 0xdf) {
    if (!isCont(s, k + 1)) return null;
    return [((c & 0x1f) << 6) | (s.charCodeAt(k + 1) & 0x3f), 2];
  }
  if (c >= 0xe0 && c <= 0xef) {
    if (!isCont(s, k + 1) || !isCont(s, k + 2)) return null;
    return [((c & 0x0f) << 12) | ((s.charCodeAt(k + 1) & 0x3f) << 6) | (s.charCodeAt(k + 2) & 0x3f), 3];
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!isCont(s, k + 1) || !isCont(s, k + 2) || !isCont(s, k + 3)) return null;
    const cp =
      ((c & 0x07) << 18) |
      ((s.charCodeAt(k + 1) & 0x3f) << 12) |
      ((s.charCodeAt(k + 2) & 0x3f) << 6) |
      (s.charCodeAt(k + 3) & 0x3f);
    return cp <= 0x10ffff ? [cp, 4] : null;
  }
  return null;
}

/**
 * UTF-8 byte sequences (latin1 units) become `%uhhhh` (lowercase hex, at least
 * four digits); units above 0xFF are already text and are written the same way
 * (surrogate pairs as one code point). Invalid bytes and ASCII are kept.
 */
export function utf8ToUnicode(s: string): string {
  const first = s.search(NON_ASCII);
  if (first < 0) return s;
  const n = s.length;
  const out = new StringBuilder();
  let last = 0;
  for (let k = first; k < n; k++) {
    const c = s.charCodeAt(k);
    if (c < 0x80) continue;
    let cp: number;
    let len: number;
    if (c <= 0xff) {
      const seq = utf8At(s, k, c);
      if (seq === null) continue; // invalid or stray byte: kept as it is
      [cp, len] = seq;
    } else {
      cp = s.codePointAt(k) ?? c;
      len = cp > 0xffff ? 2 : 1;
    }
    out.addRange(s, last, k);
    writePercentU(out, cp);
    k += len - 1;
    last = k + 1;
  }
  if (last === 0) return s;
  out.addRange(s, last, n);
  return out.done();
}
