/**
 * Character classes and string scanning for the SQL-injection tokenizer.
 */

export const WS = 1;
export const DIGIT = 2;
export const WORD = 4; // may continue an identifier
export const START = 8; // may start an identifier
export const HEX = 16;

/** Character classes of ASCII; everything from 0x80 up is a word character except NBSP. */
const CLASS = new Uint8Array(128);
for (let c = 0; c < 0x21; c++) CLASS[c] = WS;
CLASS[0x7f] = WS;
for (let c = 0x30; c <= 0x39; c++) CLASS[c] = DIGIT | WORD | HEX;
for (let c = 0x41; c <= 0x5a; c++) {
  const hex = c <= 0x46 ? HEX : 0;
  CLASS[c] = WORD | START | hex;
  CLASS[c + 0x20] = WORD | START | hex;
}
CLASS[0x5f] = WORD | START; // _
CLASS[0x24] = WORD; // $ inside identifiers

/** Class bits of a UTF-16 code unit. */
export function cls(c: number): number {
  if (c < 128) return CLASS[c];
  return c === 0xa0 ? WS : WORD | START;
}

/** First index from `i` (or the end) that is not a blank. */
export function skipBlanks(s: string, i: number): number {
  while (i < s.length && cls(s.charCodeAt(i)) === WS) i++;
  return i;
}

/** First index from `i` (or the end) whose character lacks class bit `bit`. */
export function skipClass(s: string, i: number, bit: number): number {
  while (i < s.length && (cls(s.charCodeAt(i)) & bit) !== 0) i++;
  return i;
}

/**
 * End (index after the closing quote) of a string or quoted name whose body
 * starts at `i`, or -1 when it is not closed. A doubled quote and a quote
 * behind a backslash do not close it.
 */
export function quotedEnd(s: string, i: number, quote: number): number {
  const n = s.length;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c === 0x5c) {
      i += 2;
    } else if (c === quote) {
      if (s.charCodeAt(i + 1) !== quote) return i + 1;
      i += 2;
    } else {
      i++;
    }
  }
  return -1;
}
