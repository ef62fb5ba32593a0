/**
 * SPIFFE IDs, parsed by hand per the SPIFFE-ID standard. The WHATWG URL parser
 * is deliberately not used: it normalises (case, dot segments, percent-encoding),
 * and an identity must be compared exactly as it was written.
 */
import { PkiError } from "./errors.js";

export const MAX_SPIFFE_ID_BYTES = 2048;
export const MAX_TRUST_DOMAIN_BYTES = 255;

const SCHEME_PREFIX = "spiffe://";
const TRUST_DOMAIN_RE = /^[a-z0-9._-]+$/;
const SEGMENT_RE = /^[a-zA-Z0-9._-]+$/;

export interface SpiffeId {
  readonly trustDomain: string;
  /** "" for a trust-domain ID, otherwise "/a/b". */
  readonly path: string;
  toString(): string;
}

class ParsedSpiffeId implements SpiffeId {
  readonly trustDomain: string;
  readonly path: string;

  constructor(trustDomain: string, path: string) {
    this.trustDomain = trustDomain;
    this.path = path;
    Object.freeze(this);
  }

  toString(): string {
    return `${SCHEME_PREFIX}${this.trustDomain}${this.path}`;
  }

  toJSON(): string {
    return this.toString();
  }
}

function fail(reason: string): never {
  throw new PkiError("invalid_spiffe_id", reason);
}

/** Shows an offending character without letting control bytes into logs. */
function describeChar(ch: string): string {
  const code = ch.codePointAt(0) ?? 0;
  return code > 0x20 && code < 0x7f ? `'${ch}'` : `U+${code.toString(16).toUpperCase().padStart(4, "0")}`;
}

function checkTrustDomain(td: string): void {
  if (td === "") fail("trust domain is empty");
  if (td.includes("@")) fail("userinfo is not allowed");
  if (td.includes(":")) fail("port is not allowed");
  if (Buffer.byteLength(td, "utf8") > MAX_TRUST_DOMAIN_BYTES) {
    fail(`trust domain longer than ${MAX_TRUST_DOMAIN_BYTES} bytes`);
  }
  if (TRUST_DOMAIN_RE.test(td)) return;
  for (const ch of td) {
    if (ch >= "A" && ch <= "Z") fail("trust domain contains an uppercase letter");
  }
  for (const ch of td) {
    if (!TRUST_DOMAIN_RE.test(ch)) fail(`trust domain has a character outside [a-z0-9.-_]: ${describeChar(ch)}`);
  }
}

function checkSegment(seg: string, what = "path segment"): void {
  if (seg === "") fail("path has an empty segment");
  if (seg === "." || seg === "..") fail(`${what} '${seg}' is not allowed`);
  if (SEGMENT_RE.test(seg)) return;
  for (const ch of seg) {
    if (!SEGMENT_RE.test(ch)) fail(`${what} has a character outside [a-zA-Z0-9.-_]: ${describeChar(ch)}`);
  }
}

function checkScheme(id: string): void {
  if (id.startsWith(SCHEME_PREFIX)) return;
  const colon = id.indexOf(":");
  if (colon <= 0) fail("scheme must be 'spiffe' (missing 'spiffe://')");
  const scheme = id.slice(0, colon);
  if (scheme.toLowerCase() === "spiffe" && scheme !== "spiffe") fail("scheme must be 'spiffe' (lowercase)");
  if (scheme !== "spiffe") fail("scheme must be 'spiffe'");
  fail("'spiffe:' must be followed by '//' and a trust domain");
}

/** Parses and validates a SPIFFE ID; every rejection says which rule was broken. */
export function parseSpiffeId(id: string): SpiffeId {
  if (typeof id !== "string") fail("SPIFFE ID must be a string");
  if (id === "") fail("SPIFFE ID is empty");
  if (Buffer.byteLength(id, "utf8") > MAX_SPIFFE_ID_BYTES) fail(`longer than ${MAX_SPIFFE_ID_BYTES} bytes`);
  checkScheme(id);

  const rest = id.slice(SCHEME_PREFIX.length);
  const q = rest.indexOf("?");
  const f = rest.indexOf("#");
  // Whichever delimiter comes first starts the component RFC 3986 would see.
  if (q >= 0 && (f < 0 || q < f)) fail("query is not allowed");
  if (f >= 0) fail("fragment not allowed");
  if (rest.includes("%")) fail("percent-encoding is not allowed");

  const slash = rest.indexOf("/");
  const trustDomain = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? "" : rest.slice(slash);
  checkTrustDomain(trustDomain);
  if (path !== "") {
    if (path.endsWith("/")) fail("trailing '/' is not allowed");
    for (const seg of path.slice(1).split("/")) checkSegment(seg);
  }
  return new ParsedSpiffeId(trustDomain, path);
}

export function isValidSpiffeId(id: string): boolean {
  try {
    parseSpiffeId(id);
    return true;
  } catch {
    return false;
  }
}

/** Validates a bare trust domain name (no scheme, no path) and returns it unchanged. */
export function validateTrustDomain(td: string): string {
  if (typeof td !== "string") fail("trust domain must be a string");
  checkTrustDomain(td);
  return td;
}

function build(trustDomain: string, segments: ReadonlyArray<readonly [string, string]>): SpiffeId {
  validateTrustDomain(trustDomain);
  for (const [what, seg] of segments) {
    if (typeof seg !== "string") fail(`${what} must be a string`);
    // Checked one by one so a '/' inside a name cannot add segments.
    if (seg === "") fail(`${what} is empty`);
    checkSegment(seg, what);
  }
  const path = segments.map(([, seg]) => `/${seg}`).join("");
  return parseSpiffeId(`${SCHEME_PREFIX}${trustDomain}${path}`);
}

/** spiffe://<td>/ns/<namespace>/sa/<serviceAccount> */
export function workloadSpiffeId(trustDomain: string, namespace: string, serviceAccount: string): SpiffeId {
  return build(trustDomain, [
    ["literal", "ns"],
    ["namespace", namespace],
    ["literal", "sa"],
    ["service account", serviceAccount],
  ]);
}

/** spiffe://<td>/mesh/node/<nodeName> */
export function nodeSpiffeId(trustDomain: string, nodeName: string): SpiffeId {
  return build(trustDomain, [
    ["literal", "mesh"],
    ["literal", "node"],
    ["node name", nodeName],
  ]);
}

/** The trust-domain ID itself (spiffe://<td>), as carried by signing certificates. */
export function trustDomainId(trustDomain: string): SpiffeId {
  validateTrustDomain(trustDomain);
  return new ParsedSpiffeId(trustDomain, "");
}

export function memberOf(id: SpiffeId, trustDomain: string): boolean {
  return id.trustDomain === trustDomain;
}

export function sameSpiffeId(a: SpiffeId, b: SpiffeId): boolean {
  return a.trustDomain === b.trustDomain && a.path === b.path;
}
