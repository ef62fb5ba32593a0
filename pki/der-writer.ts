/** DER writer: minimal encodings for certificates, CSRs and CRLs built on the CA hot path. */
import { TAG } from "./der-common.js";
/** Definite length octets, short form below 128, else the minimal long form. */
function lengthBytes(len: number): Buffer {
  if (len < 0x80) return Buffer.from([len]);
  const out: number[] = [];
  for (let n = len; n > 0; n = Math.floor(n / 256)) out.unshift(n & 0xff);
  return Buffer.from([0x80 | out.length, ...out]);
}

/** One TLV with a single-byte tag. */
export function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  if (n < 0x80) {
    const out = Buffer.allocUnsafe(2 + n);
    out[0] = tag;
    out[1] = n;
    content.copy(out, 2);
    return out;
  }
  return Buffer.concat([Buffer.from([tag]), lengthBytes(n), content]);
}

function concatTlv(tag: number, parts: readonly Buffer[]): Buffer {
  let n = 0;
  for (const p of parts) n += p.length;
  const head = n < 0x80 ? Buffer.from([tag, n]) : Buffer.concat([Buffer.from([tag]), lengthBytes(n)]);
  return Buffer.concat([head, ...parts], head.length + n);
}

export function sequence(...parts: Buffer[]): Buffer {
  return concatTlv(TAG.SEQUENCE, parts);
}

/** SET OF: DER orders the members by their encodings. */
export function set(...parts: Buffer[]): Buffer {
  return concatTlv(TAG.SET, parts.length > 1 ? [...parts].sort(Buffer.compare) : parts);
}

/** Minimal two's-complement content octets of a bigint. */
function bigintContent(v: bigint): Buffer {
  if (v === 0n) return Buffer.from([0]);
  if (v > 0n) {
    let hex = v.toString(16);
    if (hex.length % 2) hex = "0" + hex;
    const b = Buffer.from(hex, "hex");
    return b[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b;
  }
  // Negative: take the smallest byte width whose range holds v.
  let bytes = 1;
  while (v < -(1n << BigInt(bytes * 8 - 1))) bytes++;
  const twos = (1n << BigInt(bytes * 8)) + v;
  return Buffer.from(twos.toString(16).padStart(bytes * 2, "0"), "hex");
}

/**
 * INTEGER. A Buffer is an unsigned big-endian magnitude (serials, RSA moduli):
 * leading zeros are dropped and a 0x00 is prepended when the top bit is set.
 */
export function integer(v: Buffer | bigint | number): Buffer {
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) throw new RangeError(`not a safe integer: ${v}`);
    if (v >= 0 && v < 0x80) return Buffer.from([TAG.INTEGER, 1, v]);
    return tlv(TAG.INTEGER, bigintContent(BigInt(v)));
  }
  if (typeof v === "bigint") return tlv(TAG.INTEGER, bigintContent(v));
  let i = 0;
  while (i < v.length - 1 && v[i] === 0) i++;
  if (v.length === 0) return Buffer.from([TAG.INTEGER, 1, 0]);
  const mag = v.subarray(i);
  return tlv(TAG.INTEGER, mag[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), mag]) : mag);
}

export function enumerated(v: number): Buffer {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`bad ENUMERATED value: ${v}`);
  return tlv(TAG.ENUMERATED, bigintContent(BigInt(v)));
}

const oidCache = new Map<string, Buffer>();

/** OBJECT IDENTIFIER from dotted form; encodings are cached (the same few OIDs recur on every certificate). */
export function oid(dotted: string): Buffer {
  const hit = oidCache.get(dotted);
  if (hit) return hit;
  if (!/^[0-2](\.(0|[1-9][0-9]*))+$/.test(dotted)) throw new RangeError(`not an OID: ${dotted}`);
  const arcs = dotted.split(".").map((a) => BigInt(a));
  if (arcs[0]! < 2n && arcs[1]! > 39n) throw new RangeError(`not an OID: ${dotted}`);
  const bytes: number[] = [];
  const push = (arc: bigint): void => {
    const groups: number[] = [Number(arc & 0x7fn)];
    for (arc >>= 7n; arc > 0n; arc >>= 7n) groups.unshift(Number(arc & 0x7fn) | 0x80);
    bytes.push(...groups);
  };
  push(arcs[0]! * 40n + arcs[1]!);
  for (const a of arcs.slice(2)) push(a);
  const enc = tlv(TAG.OID, Buffer.from(bytes));
  oidCache.set(dotted, enc);
  return enc;
}

export function boolean(v: boolean): Buffer {
  return Buffer.from([TAG.BOOLEAN, 1, v ? 0xff : 0x00]);
}

export function nullValue(): Buffer {
  return Buffer.from([TAG.NULL, 0]);
}

export function bitString(bits: Buffer, unusedBits = 0): Buffer {
  if (unusedBits < 0 || unusedBits > 7 || (bits.length === 0 && unusedBits !== 0)) {
    throw new RangeError(`bad unused-bit count ${unusedBits}`);
  }
  return tlv(TAG.BIT_STRING, Buffer.concat([Buffer.from([unusedBits]), bits]));
}

export function octetString(v: Buffer): Buffer {
  return tlv(TAG.OCTET_STRING, v);
}

export function utf8String(s: string): Buffer {
  return tlv(TAG.UTF8_STRING, Buffer.from(s, "utf8"));
}

const PRINTABLE_RE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

export function printableString(s: string): Buffer {
  if (!PRINTABLE_RE.test(s)) throw new RangeError("string has characters outside PrintableString");
  return tlv(TAG.PRINTABLE_STRING, Buffer.from(s, "latin1"));
}

/** IA5 (ASCII) content; callers retag it for URI / dNSName GeneralNames. */
export function ia5String(s: string): Buffer {
  // eslint-disable-next-line no-control-regex
  if (!/^[\x00-\x7f]*$/.test(s)) throw new RangeError("string has characters outside IA5String");
  return tlv(TAG.IA5_STRING, Buffer.from(s, "latin1"));
}

const pad2 = (n: number): string => (n < 10 ? "0" + n : String(n));

function timeDigits(d: Date): string {
  return (
    pad2(d.getUTCMonth() + 1) +
    pad2(d.getUTCDate()) +
    pad2(d.getUTCHours()) +
    pad2(d.getUTCMinutes()) +
    pad2(d.getUTCSeconds()) +
    "Z"
  );
}

function checkDate(d: Date): void {
  if (!(d instanceof Date) || Number.isNaN(d.getTime())) throw new RangeError("invalid Date");
}

export function utcTime(d: Date): Buffer {
  checkDate(d);
  const y = d.getUTCFullYear();
  if (y < 1950 || y > 2049) throw new RangeError(`UTCTime cannot hold year ${y}`);
  return tlv(TAG.UTC_TIME, Buffer.from(pad2(y % 100) + timeDigits(d), "latin1"));
}

export function generalizedTime(d: Date): Buffer {
  checkDate(d);
  const y = d.getUTCFullYear();
  if (y < 0 || y > 9999) throw new RangeError(`GeneralizedTime cannot hold year ${y}`);
  return tlv(TAG.GENERALIZED_TIME, Buffer.from(String(y).padStart(4, "0") + timeDigits(d), "latin1"));
}

/** RFC 5280 §4.1.2.5: UTCTime for 1950–2049, GeneralizedTime otherwise. Sub-second parts are dropped. */
export function time(d: Date): Buffer {
  checkDate(d);
  const y = d.getUTCFullYear();
  return y >= 1950 && y <= 2049 ? utcTime(d) : generalizedTime(d);
}

/** [n] EXPLICIT: a constructed context tag wrapping complete encodings. */
export function explicit(n: number, ...inner: Buffer[]): Buffer {
  if (n < 0 || n > 30) throw new RangeError(`tag number ${n} out of range`);
  return concatTlv(0xa0 | n, inner);
}

/** [n] IMPLICIT: replaces the tag of one complete encoding, keeping its constructed bit. */
export function implicit(n: number, encoded: Buffer): Buffer {
  if (n < 0 || n > 30) throw new RangeError(`tag number ${n} out of range`);
  if (encoded.length < 2) throw new RangeError("implicit needs a complete encoding");
  const out = Buffer.from(encoded);
  out[0] = 0x80 | (encoded[0]! & 0x20) | n;
  return out;
}

/** A ready encoding passed through unchanged (subject DN, SPKI taken from a CSR). */
export function raw(encoded: Buffer): Buffer {
  return encoded;
}
