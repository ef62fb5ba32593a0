/**
 * Byte-string helpers shared by the body parsers. Every string the WAF
 * inspects is a latin1 string of the request bytes, so a decoded character
 * reference becomes the UTF-8 bytes the client would have sent for it.
 */

import { BYTE_CHARS } from "../transforms/support.js";

// the byte table and hex digits are the transformations' own
export { BYTE_CHARS, hexValue } from "../transforms/support.js";

/** The UTF-8 bytes of a code point as a latin1 string (lone surrogates encoded as three bytes, like WTF-8). */
export function utf8Bytes(cp: number): string {
  if (cp < 0x80) return BYTE_CHARS[cp]!;
  if (cp < 0x800) return BYTE_CHARS[0xc0 | (cp >> 6)]! + BYTE_CHARS[0x80 | (cp & 0x3f)]!;
  if (cp < 0x10000) {
    return BYTE_CHARS[0xe0 | (cp >> 12)]! + BYTE_CHARS[0x80 | ((cp >> 6) & 0x3f)]! + BYTE_CHARS[0x80 | (cp & 0x3f)]!;
  }
  return (
    BYTE_CHARS[0xf0 | (cp >> 18)]! +
    BYTE_CHARS[0x80 | ((cp >> 12) & 0x3f)]! +
    BYTE_CHARS[0x80 | ((cp >> 6) & 0x3f)]! +
    BYTE_CHARS[0x80 | (cp & 0x3f)]!
  );
}

/** XML/HTTP whitespace: space, tab, CR, LF. */
export function isWs(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

/** True when s[start, end) holds only whitespace. */
export function allWs(s: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (!isWs(s.charCodeAt(i))) return false;
  return true;
}

/** tchar of RFC 9110 (the characters of methods, header names and parameter tokens), indexed by byte. */
const TCHAR = new Uint8Array(256);
for (const ch of "!#$%&'*+-.^_`|~") TCHAR[ch.charCodeAt(0)] = 1;
for (let b = 0x30; b <= 0x39; b++) TCHAR[b] = 1;
for (let b = 0x41; b <= 0x5a; b++) TCHAR[b] = TCHAR[b + 0x20] = 1;

export function isTchar(c: number): boolean {
  return TCHAR[c] === 1;
}

/** HTTP optional whitespace: space or tab. */
export function isOws(c: number): boolean {
  return c === 32 || c === 9;
}

/** Trims spaces and tabs only (String.prototype.trim also eats NBSP, VT and FF, which are data here). */
export function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isOws(s.charCodeAt(a))) a++;
  while (b > a && isOws(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/**
 * A copy of s that shares no memory with a string it may have been cut from: V8 makes a slice of 13 or
 * more characters a view of its parent, which stays alive as long as the slice does (and a joined string
 * holds its parts until it is flattened). For what outlives its request (a remembered value, a JSON name);
 * rare, so the cost of the round trip does not matter.
 */
export function detached(s: string): string {
  return s.length < 13 ? s : (JSON.parse(JSON.stringify(s)) as string);
}
