/**
 * IP addresses and CIDR blocks for authorization (ip_blocks, `when` on
 * source.ip). Addresses are four 32-bit words so matching allocates nothing;
 * an IPv4 address is matched as itself and as its IPv4-mapped IPv6 form
 * (::ffff:a.b.c.d), so a v4 block covers clients of a dual-stack socket.
 */

export interface Cidr {
  readonly v6: boolean;
  /** Network words (host bits cleared); IPv4 uses words[0] only. */
  readonly words: Uint32Array;
  readonly masks: Uint32Array;
}

/** Parses dotted-quad IPv4 (no leading zeros) into a uint32, or -1. */
export function parseIpv4(s: string, start = 0, end = s.length): number {
  let value = 0;
  let parts = 0;
  let i = start;
  while (parts < 4) {
    const from = i;
    let octet = 0;
    while (i < end) {
      const c = s.charCodeAt(i);
      if (c < 0x30 || c > 0x39) break;
      octet = octet * 10 + (c - 0x30);
      i++;
    }
    const len = i - from;
    if (len === 0 || len > 3 || octet > 255 || (len > 1 && s.charCodeAt(from) === 0x30)) return -1;
    value = value * 256 + octet;
    parts++;
    if (parts < 4) {
      if (i >= end || s.charCodeAt(i) !== 0x2e) return -1;
      i++;
    }
  }
  return i === end ? value >>> 0 : -1;
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * Parses IPv6 text (with `::` and an optional trailing dotted quad) into
 * out[0..3]. A zone (`%eth0`) ends the address. Returns false when malformed.
 * Uses a fixed scratch of groups, so it allocates nothing.
 */
const groups = new Uint16Array(8);
export function parseIpv6(s: string, out: Uint32Array): boolean {
  let end = s.indexOf("%");
  if (end < 0) end = s.length;
  let count = 0;
  let gap = -1;
  let i = 0;
  if (end >= 2 && s.charCodeAt(0) === 0x3a && s.charCodeAt(1) === 0x3a) {
    gap = 0;
    i = 2;
  } else if (end >= 1 && s.charCodeAt(0) === 0x3a) {
    return false;
  }
  while (i < end) {
    if (count >= 8) return false;
    const from = i;
    let v = 0;
    while (i < end) {
      const d = hexDigit(s.charCodeAt(i));
      if (d < 0) break;
      v = v * 16 + d;
      i++;
    }
    const len = i - from;
    if (i < end && s.charCodeAt(i) === 0x2e) {
      // Embedded IPv4 takes the last two groups.
      if (count > 6) return false;
      const v4 = parseIpv4(s, from, end);
      if (v4 < 0) return false;
      groups[count++] = v4 >>> 16;
      groups[count++] = v4 & 0xffff;
      i = end;
      break;
    }
    if (len === 0 || len > 4) return false;
    groups[count++] = v;
    if (i === end) break;
    if (s.charCodeAt(i) !== 0x3a) return false;
    i++;
    if (i < end && s.charCodeAt(i) === 0x3a) {
      if (gap >= 0) return false;
      gap = count;
      i++;
    } else if (i === end) {
      return false; // trailing single colon
    }
  }
  if (gap < 0 ? count !== 8 : count > 7) return false;
  const fill = 8 - count;
  for (let w = 0; w < 4; w++) out[w] = 0;
  for (let g = 0, k = 0; g < 8; g++) {
    let v = 0;
    if (gap >= 0 && g >= gap && g < gap + fill) v = 0;
    else v = groups[k++]!;
    out[g >> 1] = (out[g >> 1]! | (g & 1 ? v : v << 16)) >>> 0;
  }
  return true;
}

/** Family of an address written into out: 4 (out[0] holds it), 6, or 0 when not an IP. */
export function parseIp(s: string, out: Uint32Array): 0 | 4 | 6 {
  if (s.indexOf(":") < 0) {
    const v4 = parseIpv4(s);
    if (v4 < 0) return 0;
    out[0] = v4;
    return 4;
  }
  return parseIpv6(s, out) ? 6 : 0;
}

/** Parses `addr` or `addr/len`; host bits are cleared (as Envoy's CidrRange does). Undefined when malformed. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf("/");
  const addr = slash < 0 ? text : text.slice(0, slash);
  if (addr.includes("%")) return undefined;
  const words = new Uint32Array(4);
  const family = parseIp(addr, words);
  if (family === 0) return undefined;
  const max = family === 4 ? 32 : 128;
  let bits = max;
  if (slash >= 0) {
    const len = text.slice(slash + 1);
    if (!/^(0|[1-9]\d{0,2})$/.test(len)) return undefined;
    bits = Number(len);
    if (bits > max) return undefined;
  }
  const masks = new Uint32Array(4);
  for (let w = 0; w < (family === 4 ? 1 : 4); w++) {
    const b = Math.min(32, Math.max(0, bits - w * 32));
    masks[w] = b === 0 ? 0 : (0xffffffff << (32 - b)) >>> 0;
    words[w] = (words[w]! & masks[w]!) >>> 0;
  }
  return { v6: family === 6, words, masks };
}

/** A compiled list of blocks; `matches` allocates nothing. */
export class CidrSet {
  private readonly v4: Cidr[] = [];
  private readonly v6: Cidr[] = [];

  constructor(blocks: readonly Cidr[]) {
    for (const b of blocks) (b.v6 ? this.v6 : this.v4).push(b);
  }

  /** family/words as written by parseIp. */
  matches(family: 0 | 4 | 6, w: Uint32Array): boolean {
    if (family === 4) {
      const a = w[0]!;
      if (match4(a, this.v4)) return true;
      // As ::ffff:a.b.c.d for IPv6 blocks.
      const v6 = this.v6;
      for (let i = 0; i < v6.length; i++) if (match6(0, 0, 0xffff, a, v6[i]!)) return true;
      return false;
    }
    if (family === 6) {
      const v6 = this.v6;
      for (let i = 0; i < v6.length; i++) if (match6(w[0]!, w[1]!, w[2]!, w[3]!, v6[i]!)) return true;
      if (w[0] === 0 && w[1] === 0 && w[2] === 0xffff) return match4(w[3]!, this.v4);
    }
    return false;
  }
}

function match4(a: number, blocks: readonly Cidr[]): boolean {
  for (let i = 0; i < blocks.length; i++) {
    const b = blocks[i]!;
    if (((a & b.masks[0]!) >>> 0) === b.words[0]) return true;
  }
  return false;
}

function match6(a0: number, a1: number, a2: number, a3: number, b: Cidr): boolean {
  const m = b.masks;
  const n = b.words;
  return (
    ((a0 & m[0]!) >>> 0) === n[0] &&
    ((a1 & m[1]!) >>> 0) === n[1] &&
    ((a2 & m[2]!) >>> 0) === n[2] &&
    ((a3 & m[3]!) >>> 0) === n[3]
  );
}
