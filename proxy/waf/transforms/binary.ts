/**
 * Binary decoders: base64_decode, base64_decode_ext, hex_decode and
 * sql_hex_decode. Decoded bytes come back as latin1 strings.
 */
import { StringBuilder, bytesToLatin1, hexValue } from "./support.js";

/** Standard base64 alphabet value per ASCII code, -1 for anything else (including '=' padding). */
const B64 = new Int8Array(128).fill(-1);
{
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (let i = 0; i < alphabet.length; i++) B64[alphabet.charCodeAt(i)] = i;
}

function b64Value(c: number): number {
  return c < 128 ? B64[c] : -1;
}

/**
 * Decodes base64 digits of s; `skipInvalid` decides whether an invalid char
 * ends the input (strict) or is ignored (ext). A trailing partial group yields
 * the whole bytes it holds (2 digits: 1 byte, 3 digits: 2 bytes).
 */
function decodeBase64(s: string, skipInvalid: boolean): string {
  const n = s.length;
  if (n === 0) return s;
  const bytes = new Uint8Array(Math.ceil((n * 3) / 4));
  let acc = 0;
  let bits = 0;
  let j = 0;
  for (let i = 0; i < n; i++) {
    const v = b64Value(s.charCodeAt(i));
    if (v < 0) {
      if (skipInvalid) continue;
      break;
    }
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes[j++] = (acc >> bits) & 0xff;
    }
  }
  return bytesToLatin1(bytes, j);
}

/** Base64 up to the first char outside the alphabet (padding included). */
export function base64Decode(s: string): string {
  return decodeBase64(s, false);
}

/** Forgiving base64: chars outside the alphabet are skipped. */
export function base64DecodeExt(s: string): string {
  return decodeBase64(s, true);
}

/** Pairs of hex digits to bytes, stopping at the first pair that is not hex (an odd last digit is dropped). */
export function hexDecode(s: string): string {
  const n = s.length;
  if (n === 0) return s;
  const bytes = new Uint8Array(n >> 1);
  let j = 0;
  for (let i = 0; i + 1 < n; i += 2) {
    const hi = hexValue(s.charCodeAt(i));
    const lo = hexValue(s.charCodeAt(i + 1));
    if (hi < 0 || lo < 0) break;
    bytes[j++] = (hi << 4) | lo;
  }
  return bytesToLatin1(bytes, j);
}

function isHexAt(s: string, at: number): boolean {
  return hexValue(s.charCodeAt(at)) >= 0;
}

/**
 * SQL hex literals inside text: `0x` followed by hex pairs is replaced by the
 * bytes (`0x414243` → `ABC`); an odd last digit and all other text stay.
 */
export function sqlHexDecode(s: string): string {
  let k = s.indexOf("0");
  if (k < 0) return s;
  const n = s.length;
  const out = new StringBuilder();
  let last = 0;
  while (k >= 0 && k + 3 < n) {
    if ((s.charCodeAt(k + 1) | 0x20) !== 0x78 || !isHexAt(s, k + 2) || !isHexAt(s, k + 3)) {
      k = s.indexOf("0", k + 1);
      continue;
    }
    out.addRange(s, last, k);
    let i = k + 2;
    while (i + 1 < n && isHexAt(s, i) && isHexAt(s, i + 1)) {
      out.unit((hexValue(s.charCodeAt(i)) << 4) | hexValue(s.charCodeAt(i + 1)));
      i += 2;
    }
    last = i;
    k = s.indexOf("0", i);
  }
  if (last === 0) return s;
  out.addRange(s, last, n);
  return out.done();
}
