/**
 * One raw HTTP/1.x request read from bytes (for `mesh waf check` and the
 * corpus benchmark), turned into the WafInput the proxy would hand the WAF.
 * Lenient where RFC 9112 allows a server to be (LF-only line endings, empty
 * lines before the request line, obsolete header folding joined with a
 * space, EOF ending the header section); strict where leniency lets two
 * parsers disagree (bare CR, whitespace before ":", a Content-Length that
 * is not one number, transfer codings other than chunked), which throws a
 * WafInputError with a stable code.
 */
import type { WafInput } from "./types.js";
import { WafInputError } from "./request/errors.js";
import { hexValue, isOws, isTchar, trimOws } from "./request/text.js";

export { WafInputError, isWafInputError } from "./request/errors.js";
export type { WafInputErrorCode } from "./request/errors.js";

export const MAX_HEADER_BYTES = 64 * 1024;
export const MAX_HEADERS = 200;
export const MAX_BODY_BYTES = 8 * 1024 * 1024;

export interface RawRequest {
  readonly input: WafInput;
  /** Bytes the request took; anything after it (a pipelined request, stray data) is not part of it. */
  readonly consumed: number;
}

export function parseRawHttp(bytes: Buffer): WafInput {
  return readRawHttp(bytes).input;
}

export function readRawHttp(bytes: Buffer): RawRequest {
  const n = bytes.length;
  let pos = 0;
  // RFC 9112 §2.2: empty lines before the request line are ignored.
  while (pos < n && (bytes[pos] === 0x0a || (bytes[pos] === 0x0d && bytes[pos + 1] === 0x0a))) {
    pos += bytes[pos] === 0x0d ? 2 : 1;
    if (pos > MAX_HEADER_BYTES) throw new WafInputError("headers_too_large", "header section over 64 KiB");
  }
  if (pos >= n) throw new WafInputError("bad_request_line", "no request line");
  const headStart = pos;
  const first = nextLine(bytes, pos, headStart);
  const { method, uri, protocol } = requestLine(bytes.toString("latin1", pos, first.end));
  pos = first.next;

  const headers: [string, string][] = [];
  let lines = 0;
  while (pos < n) {
    const line = nextLine(bytes, pos, headStart);
    pos = line.next;
    if (line.end === line.start) break;
    if (++lines > MAX_HEADERS) throw new WafInputError("too_many_headers", `more than ${MAX_HEADERS} header lines`);
    headers.push(headerLine(bytes, line.start, line.end, headers));
  }

  const te = headerValues(headers, "transfer-encoding");
  const cl = headerValues(headers, "content-length");
  let body: Buffer | undefined;
  if (te.length > 0) {
    const codings = te.join(",").split(",").map((x) => trimOws(x).toLowerCase()).filter((x) => x.length > 0);
    if (codings.length !== 1 || codings[0] !== "chunked") {
      throw new WafInputError("bad_transfer_encoding", `unsupported transfer coding "${te.join(", ")}"`);
    }
    // Transfer-Encoding overrides Content-Length (RFC 9112 §6.3); the rules still see both headers.
    const r = dechunk(bytes, pos);
    body = r.body;
    pos = r.next;
  } else if (cl.length > 0) {
    const len = contentLength(cl);
    if (len > MAX_BODY_BYTES) throw new WafInputError("body_too_large", `Content-Length ${len} over 8 MiB`);
    if (n - pos < len) throw new WafInputError("incomplete_body", `Content-Length ${len} but ${n - pos} body bytes`);
    if (len > 0) body = bytes.subarray(pos, pos + len);
    pos += len;
  }
  const input: WafInput = body === undefined ? { method, uri, protocol, headers } : { method, uri, protocol, headers, body };
  return { input, consumed: pos };
}

interface Line {
  readonly start: number;
  /** End of the line's content (before CRLF or LF). */
  readonly end: number;
  /** Start of the next line. */
  readonly next: number;
}

/** The header-section line at pos; the end of input ends the last line. */
function nextLine(bytes: Buffer, pos: number, headStart: number): Line {
  const lf = bytes.indexOf(0x0a, pos);
  const limit = headStart + MAX_HEADER_BYTES;
  if ((lf === -1 ? bytes.length : lf) >= limit) throw new WafInputError("headers_too_large", "header section over 64 KiB");
  if (lf === -1) return { start: pos, end: bytes.length, next: bytes.length };
  const end = lf > pos && bytes[lf - 1] === 0x0d ? lf - 1 : lf;
  return { start: pos, end, next: lf + 1 };
}

function requestLine(line: string): { method: string; uri: string; protocol: string } {
  const sp1 = line.indexOf(" ");
  const sp2 = line.lastIndexOf(" ");
  if (sp1 <= 0 || sp2 <= sp1 + 1) throw new WafInputError("bad_request_line", `malformed request line "${clip(line)}"`);
  const method = line.slice(0, sp1);
  const uri = line.slice(sp1 + 1, sp2);
  const protocol = line.slice(sp2 + 1);
  for (let i = 0; i < method.length; i++) {
    if (!isTchar(method.charCodeAt(i))) throw new WafInputError("bad_request_line", `invalid method "${clip(method)}"`);
  }
  // Control characters other than CR/LF and bytes over 0x7f are left in the target for the rules to judge.
  for (let i = 0; i < uri.length; i++) {
    const c = uri.charCodeAt(i);
    if (c === 0x20 || c === 0x0d || c === 0x0a || c === 0) throw new WafInputError("bad_request_line", `invalid request target "${clip(uri)}"`);
  }
  if (!/^HTTP\/1\.[0-9]$/.test(protocol)) throw new WafInputError("bad_request_line", `not an HTTP/1.x version "${clip(protocol)}"`);
  return { method, uri, protocol };
}

function headerLine(bytes: Buffer, start: number, end: number, headers: [string, string][]): [string, string] {
  for (let i = start; i < end; i++) {
    if (bytes[i] === 0x0d) throw new WafInputError("bad_header", "bare CR in a header line");
  }
  const first = bytes[start]!;
  if (isOws(first)) {
    // Obsolete line folding: joined to the previous value with one space (RFC 9112 §5.2).
    const prev = headers.pop();
    if (prev === undefined) throw new WafInputError("bad_header", "folded line before any header");
    return [prev[0], `${prev[1]} ${trimOws(bytes.toString("latin1", start, end))}`];
  }
  let colon = start;
  while (colon < end && bytes[colon] !== 0x3a) colon++;
  if (colon === end) throw new WafInputError("bad_header", `header line without a colon "${clip(bytes.toString("latin1", start, end))}"`);
  if (colon === start) throw new WafInputError("bad_header", "header with an empty name");
  for (let i = start; i < colon; i++) {
    if (!isTchar(bytes[i]!)) throw new WafInputError("bad_header", `invalid header name "${clip(bytes.toString("latin1", start, colon))}"`);
  }
  const name = bytes.toString("latin1", start, colon).toLowerCase();
  let vs = colon + 1;
  let ve = end;
  while (vs < ve && isOws(bytes[vs]!)) vs++;
  while (ve > vs && isOws(bytes[ve - 1]!)) ve--;
  return [name, bytes.toString("latin1", vs, ve)];
}

function headerValues(headers: readonly [string, string][], name: string): string[] {
  const out: string[] = [];
  for (const [k, v] of headers) if (k === name) out.push(v);
  return out;
}

/** Every Content-Length value (and list element) must be the same run of digits. */
function contentLength(values: readonly string[]): number {
  let len = -1;
  for (const v of values) {
    for (const part of v.split(",")) {
      const t = trimOws(part);
      if (!/^[0-9]{1,16}$/.test(t)) throw new WafInputError("bad_content_length", `invalid Content-Length "${clip(v)}"`);
      const x = Number(t);
      if (len !== -1 && x !== len) throw new WafInputError("bad_content_length", "Content-Length values disagree");
      len = x;
    }
  }
  return len;
}

/** A chunked body from pos: chunks, the last (zero) chunk, trailers up to the blank line or the end of input. */
function dechunk(bytes: Buffer, pos: number): { body: Buffer | undefined; next: number } {
  const n = bytes.length;
  // The data cannot be longer than what is left, so one buffer of that size holds it (no per-chunk objects).
  const out = Buffer.allocUnsafe(Math.min(n - pos, MAX_BODY_BYTES));
  let total = 0;
  const line = { size: 0, next: 0 };
  for (;;) {
    chunkSizeLine(bytes, pos, line);
    pos = line.next;
    const size = line.size;
    if (size === 0) break;
    if (total + size > MAX_BODY_BYTES) throw new WafInputError("body_too_large", "chunked body over 8 MiB");
    if (n - pos < size) throw new WafInputError("incomplete_body", `chunk of ${size} bytes but ${n - pos} left`);
    // Tiny chunks (a classic evasion) are copied by hand: a native copy per byte costs more than the byte.
    if (size < 32) for (let k = 0; k < size; k++) out[total + k] = bytes[pos + k]!;
    else bytes.copy(out, total, pos, pos + size);
    total += size;
    pos += size;
    if (bytes[pos] === 0x0d && bytes[pos + 1] === 0x0a) pos += 2;
    else if (bytes[pos] === 0x0a) pos += 1;
    else throw new WafInputError(pos >= n ? "incomplete_body" : "bad_chunk", "chunk data not followed by a line break");
  }
  // Trailer fields are not headers the app sees; skip them up to the blank line.
  let trailers = 0;
  while (pos < n) {
    const lf = bytes.indexOf(0x0a, pos);
    const end = lf === -1 ? n : lf;
    const blank = end === pos || (end === pos + 1 && bytes[pos] === 0x0d);
    pos = lf === -1 ? n : lf + 1;
    if (blank) break;
    if (++trailers > MAX_HEADERS) throw new WafInputError("too_many_headers", "too many trailer lines");
  }
  return { body: total === 0 ? undefined : Buffer.from(out.subarray(0, total)), next: pos };
}

/** "1a;ext=x" CRLF → 26: up to 8 hex digits, then optional whitespace and extensions up to the line break. */
function chunkSizeLine(bytes: Buffer, pos: number, out: { size: number; next: number }): void {
  const n = bytes.length;
  let size = 0;
  let i = pos;
  for (; i < n && i - pos <= 8; i++) {
    const v = hexValue(bytes[i]!);
    if (v < 0) break;
    size = size * 16 + v;
  }
  if (i >= n) throw new WafInputError("incomplete_body", "chunk size line not terminated");
  if (i === pos || i - pos > 8) throw new WafInputError("bad_chunk", "invalid chunk size");
  const c = bytes[i]!;
  out.size = size;
  if (c === 0x0a) out.next = i + 1;
  else if (c === 0x0d && bytes[i + 1] === 0x0a) out.next = i + 2;
  else if (c !== 0x3b && c !== 0x20 && c !== 0x09) throw new WafInputError("bad_chunk", "invalid chunk size");
  else {
    const lf = bytes.indexOf(0x0a, i);
    if (lf === -1) throw new WafInputError("incomplete_body", "chunk size line not terminated");
    out.next = lf + 1;
  }
}

function clip(s: string): string {
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
}
