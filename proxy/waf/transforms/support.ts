/**
 * Shared pieces of the transformations: character classes and a string
 * builder. Values are JS strings whose code units are either bytes (latin1)
 * or UTF-16 text; helpers work on code units and never throw.
 */

/** One-char strings for the 256 byte values, so decoders do not allocate per decoded char. */
export const BYTE_CHARS: readonly string[] = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i));

/** The string for one UTF-16 code unit. */
export function unitChar(code: number): string {
  return code < 256 ? BYTE_CHARS[code] : String.fromCharCode(code);
}

export const REPLACEMENT_CHAR = "\ufffd";

/** The string for a code point; U+FFFD when out of range (so callers never see a RangeError). */
export function codePointChar(cp: number): string {
  if (cp < 0x10000) return cp >= 0 ? unitChar(cp) : REPLACEMENT_CHAR;
  return cp <= 0x10ffff ? String.fromCodePoint(cp) : REPLACEMENT_CHAR;
}

/** Value of a hex digit code unit, -1 when it is not one. */
export function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x57 : -1;
}

/** Value of four hex digits at s[at..at+3], -1 when they are not all hex (or the string is too short). */
export function hex4(s: string, at: number): number {
  if (at + 4 > s.length) return -1;
  const a = hexValue(s.charCodeAt(at));
  const b = hexValue(s.charCodeAt(at + 1));
  const c = hexValue(s.charCodeAt(at + 2));
  const d = hexValue(s.charCodeAt(at + 3));
  return (a | b | c | d) < 0 ? -1 : (a << 12) | (b << 8) | (c << 4) | d;
}

export function isOctal(c: number): boolean {
  return c >= 0x30 && c <= 0x37;
}

/**
 * Octal escape digits at s[at..]: up to three, the third only when the first is 0-3
 * (so the value stays a byte, as C and JS do). Returns [value, digits] or null.
 */
export function octalAt(s: string, at: number): readonly [number, number] | null {
  const n = s.length;
  if (at >= n || !isOctal(s.charCodeAt(at))) return null;
  let v = s.charCodeAt(at) - 0x30;
  const max = v <= 3 ? 3 : 2;
  let len = 1;
  while (len < max && at + len < n && isOctal(s.charCodeAt(at + len))) {
    v = v * 8 + (s.charCodeAt(at + len) - 0x30);
    len++;
  }
  return [v, len];
}

/** Whitespace as ModSecurity sees it: space, \t \n \v \f \r and NBSP (0xA0). */
export function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0;
}

/** Full-width ASCII (U+FF01-U+FF5E) folded to ASCII, other codes unchanged: an IIS-era evasion. */
export function foldFullWidth(c: number): number {
  return c >= 0xff01 && c <= 0xff5e ? c - 0xfee0 : c;
}

/** Control characters of the C escapes \a \b \f \n \r \t \v, keyed by the letter's code; -1 otherwise. */
export function controlEscape(c: number): number {
  switch (c) {
    case 0x61: // a
      return 0x07;
    case 0x62: // b
      return 0x08;
    case 0x66: // f
      return 0x0c;
    case 0x6e: // n
      return 0x0a;
    case 0x72: // r
      return 0x0d;
    case 0x74: // t
      return 0x09;
    case 0x76: // v
      return 0x0b;
    default:
      return -1;
  }
}

/** Single code units buffered before they become one string (one native call per batch). */
const UNIT_BATCH = 1024;
/** Runs this short are copied unit by unit rather than sliced. */
const SHORT_RUN = 8;

/**
 * Collects the output of a decoder: long unchanged runs of the input as
 * slices, decoded chars as code units batched into strings, all joined once
 * at the end. Linear in time and memory whatever the mix, with no deep
 * string ropes on huge inputs.
 */
export class StringBuilder {
  private readonly parts: string[] = [];
  private units: number[] = [];

  /** Appends one UTF-16 code unit. */
  unit(code: number): void {
    if (this.units.push(code) >= UNIT_BATCH) this.flushUnits();
  }

  add(piece: string): void {
    if (piece.length === 1) {
      this.unit(piece.charCodeAt(0));
    } else if (piece.length > 0) {
      this.flushUnits();
      this.parts.push(piece);
    }
  }

  /** Appends s[from..to). */
  addRange(s: string, from: number, to: number): void {
    if (to - from > SHORT_RUN) {
      this.flushUnits();
      this.parts.push(s.slice(from, to));
      return;
    }
    for (let i = from; i < to; i++) this.unit(s.charCodeAt(i));
  }

  done(): string {
    this.flushUnits();
    const p = this.parts;
    return p.length === 1 ? p[0] : p.join("");
  }

  private flushUnits(): void {
    if (this.units.length === 0) return;
    this.parts.push(String.fromCharCode.apply(null, this.units));
    this.units = [];
  }
}

/** Bytes (0-255) to a latin1 string, the form binary decoders return. */
export function bytesToLatin1(bytes: Uint8Array, length: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, length).toString("latin1");
}
