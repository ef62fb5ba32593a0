/**
 * Strict, bounded DER reader: every malformed input throws DerError; it never
 * reads past a buffer or loops without consuming input.
 */
import { TAG, DerError } from "./der-common.js";
export const DEFAULT_MAX_DEPTH = 32;

/** One decoded TLV: a view into the input, children decoded on demand. */
export class DerNode {
  constructor(
    readonly buf: Buffer,
    readonly tag: number,
    /** Offset of the tag byte. */
    readonly start: number,
    /** Offset of the first content byte. */
    readonly contentStart: number,
    /** Offset one past the last content byte. */
    readonly end: number,
    readonly depth: number,
    readonly maxDepth: number,
  ) {}

  get constructed(): boolean {
    return (this.tag & 0x20) !== 0;
  }

  /** The whole TLV (for signatures and pass-through). */
  get encoded(): Buffer {
    return this.buf.subarray(this.start, this.end);
  }

  get content(): Buffer {
    return this.buf.subarray(this.contentStart, this.end);
  }

  /** Decodes the content as a series of TLVs that must fill it exactly. */
  children(): DerNode[] {
    if (!this.constructed) throw new DerError(`tag 0x${this.tag.toString(16)} is primitive, not constructed`);
    if (this.depth + 1 > this.maxDepth) throw new DerError(`nesting deeper than ${this.maxDepth}`);
    const out: DerNode[] = [];
    let pos = this.contentStart;
    while (pos < this.end) {
      const child = readTlv(this.buf, pos, this.end, this.depth + 1, this.maxDepth);
      out.push(child);
      pos = child.end;
    }
    return out;
  }

  /** Asserts the tag and returns this node (for fluent, checked navigation). */
  expect(tag: number, what: string): DerNode {
    if (this.tag !== tag) {
      throw new DerError(`${what}: expected tag 0x${tag.toString(16)}, got 0x${this.tag.toString(16)}`);
    }
    return this;
  }
}

/** Reads one TLV at `pos` that must end at or before `limit`. */
export function readTlv(buf: Buffer, pos: number, limit: number, depth = 0, maxDepth = DEFAULT_MAX_DEPTH): DerNode {
  if (limit > buf.length) throw new DerError("limit past the end of the buffer");
  if (pos + 2 > limit) throw new DerError("truncated header");
  const tag = buf[pos]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError("multi-byte tags are not supported");
  let len = buf[pos + 1]!;
  let p = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) throw new DerError("indefinite length is not DER");
    if (n > 4) throw new DerError("length field too long");
    if (p + n > limit) throw new DerError("truncated length");
    if (buf[p] === 0) throw new DerError("non-minimal length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
    p += n;
    if (len < 0x80) throw new DerError("non-minimal length");
  }
  if (len > limit - p) throw new DerError("length past the end of the input");
  return new DerNode(buf, tag, pos, p, p + len, depth, maxDepth);
}

/** Decodes exactly one TLV that spans the whole input (trailing bytes are refused). */
export function decode(buf: Buffer, maxDepth = DEFAULT_MAX_DEPTH): DerNode {
  if (!Buffer.isBuffer(buf)) throw new DerError("input is not a Buffer");
  const node = readTlv(buf, 0, buf.length, 0, maxDepth);
  if (node.end !== buf.length) throw new DerError(`${buf.length - node.end} trailing bytes`);
  return node;
}

/** Decodes the whole tree eagerly, enforcing the depth limit everywhere (validation of untrusted blobs). */
export function decodeDeep(buf: Buffer, maxDepth = DEFAULT_MAX_DEPTH): DerNode {
  const root = decode(buf, maxDepth);
  const stack: DerNode[] = [root];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (n.constructed) stack.push(...n.children());
  }
  return root;
}

/** A SEQUENCE's children, checking the count lies within [min, max]. */
export function seqChildren(node: DerNode, what: string, min = 0, max = Infinity): DerNode[] {
  node.expect(TAG.SEQUENCE, what);
  const kids = node.children();
  if (kids.length < min || kids.length > max) throw new DerError(`${what}: ${kids.length} elements`);
  return kids;
}

export function readInteger(node: DerNode, what = "INTEGER"): bigint {
  node.expect(TAG.INTEGER, what);
  const c = node.content;
  if (c.length === 0) throw new DerError(`${what}: empty`);
  if (c.length > 1 && ((c[0] === 0 && !(c[1]! & 0x80)) || (c[0] === 0xff && c[1]! & 0x80))) {
    throw new DerError(`${what}: non-minimal encoding`);
  }
  let v = BigInt("0x" + c.toString("hex"));
  if (c[0]! & 0x80) v -= 1n << BigInt(c.length * 8);
  return v;
}

/** A small non-negative INTEGER/ENUMERATED as a number (versions, reason codes). */
export function readSmallInt(node: DerNode, what: string, tag: number = TAG.INTEGER): number {
  node.expect(tag, what);
  const c = node.content;
  if (c.length === 0 || c.length > 4 || c[0]! & 0x80) throw new DerError(`${what}: out of range`);
  if (c.length > 1 && c[0] === 0 && !(c[1]! & 0x80)) throw new DerError(`${what}: non-minimal encoding`);
  return c.readUIntBE(0, c.length);
}

const oidTextCache = new Map<string, string>();

export function readOid(node: DerNode, what = "OID"): string {
  node.expect(TAG.OID, what);
  const c = node.content;
  if (c.length === 0 || c.length > 64) throw new DerError(`${what}: bad length`);
  const key = c.toString("latin1");
  const hit = oidTextCache.get(key);
  if (hit !== undefined) return hit;
  const arcs: bigint[] = [];
  let cur = 0n;
  let started = false;
  for (let i = 0; i < c.length; i++) {
    const b = c[i]!;
    if (!started && b === 0x80) throw new DerError(`${what}: non-minimal arc`);
    started = true;
    cur = (cur << 7n) | BigInt(b & 0x7f);
    if (!(b & 0x80)) {
      arcs.push(cur);
      cur = 0n;
      started = false;
    }
  }
  if (started) throw new DerError(`${what}: truncated arc`);
  const first = arcs[0]!;
  const head = first < 80n ? [first / 40n, first % 40n] : [2n, first - 80n];
  const text = [...head, ...arcs.slice(1)].join(".");
  if (oidTextCache.size < 1024) oidTextCache.set(key, text);
  return text;
}

export function readBoolean(node: DerNode, what = "BOOLEAN"): boolean {
  node.expect(TAG.BOOLEAN, what);
  const c = node.content;
  if (c.length !== 1 || (c[0] !== 0 && c[0] !== 0xff)) throw new DerError(`${what}: not a DER BOOLEAN`);
  return c[0] === 0xff;
}

/** BIT STRING content: the bits and the count of unused trailing bits. */
export function readBitString(node: DerNode, what = "BIT STRING"): { bits: Buffer; unusedBits: number } {
  node.expect(TAG.BIT_STRING, what);
  const c = node.content;
  if (c.length === 0) throw new DerError(`${what}: empty`);
  const unusedBits = c[0]!;
  if (unusedBits > 7 || (c.length === 1 && unusedBits !== 0)) throw new DerError(`${what}: bad unused-bit count`);
  return { bits: c.subarray(1), unusedBits };
}

function digits(s: string, from: number, n: number): number {
  let v = 0;
  for (let i = from; i < from + n; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) throw new DerError("time: non-digit");
    v = v * 10 + d;
  }
  return v;
}

/** UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ), the RFC 5280 profile only. */
export function readTime(node: DerNode, what = "time"): Date {
  const s = node.content.toString("latin1");
  let year: number;
  let rest: number;
  if (node.tag === TAG.UTC_TIME) {
    if (s.length !== 13) throw new DerError(`${what}: UTCTime must be YYMMDDHHMMSSZ`);
    const yy = digits(s, 0, 2);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
    rest = 2;
  } else if (node.tag === TAG.GENERALIZED_TIME) {
    if (s.length !== 15) throw new DerError(`${what}: GeneralizedTime must be YYYYMMDDHHMMSSZ`);
    year = digits(s, 0, 4);
    rest = 4;
  } else {
    throw new DerError(`${what}: not a time (tag 0x${node.tag.toString(16)})`);
  }
  if (s[s.length - 1] !== "Z") throw new DerError(`${what}: must end in Z`);
  const mon = digits(s, rest, 2);
  const day = digits(s, rest + 2, 2);
  const h = digits(s, rest + 4, 2);
  const mi = digits(s, rest + 6, 2);
  const sec = digits(s, rest + 8, 2);
  const ms = Date.UTC(year, mon - 1, day, h, mi, sec);
  const d = new Date(ms);
  if (year < 100) d.setUTCFullYear(year); // Date.UTC maps 0–99 to 1900–1999
  if (
    mon < 1 || mon > 12 || d.getUTCMonth() !== mon - 1 || d.getUTCDate() !== day ||
    h > 23 || mi > 59 || sec > 59
  ) {
    throw new DerError(`${what}: out-of-range field`);
  }
  return d;
}

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

/** Text of a UTF8String, PrintableString or IA5String. */
export function readString(node: DerNode, what = "string"): string {
  switch (node.tag) {
    case TAG.UTF8_STRING:
      try {
        return utf8Decoder.decode(node.content);
      } catch {
        throw new DerError(`${what}: invalid UTF-8`);
      }
    case TAG.PRINTABLE_STRING:
    case TAG.IA5_STRING:
      return node.content.toString("latin1");
    default:
      throw new DerError(`${what}: unsupported string tag 0x${node.tag.toString(16)}`);
  }
}
