/**
 * Parsing Kong's hmac credentials:
 *
 *   hmac username="alice", algorithm="hmac-sha256", headers="date request-line", signature="<base64>"
 *
 * Each value is Kong's plain-string: double quotes around printable ASCII
 * without `"` or `\` (no escapes). Kong matches the four parameters with one
 * regular expression in a fixed order; this parser takes them in any order,
 * refuses duplicates and unknown names, and bounds every length. `headers`
 * may be left out: it then means `date` (draft-cavage-http-signatures).
 *
 * Error texts name parameters, never their values (the signature is one).
 */

export const HMAC_PARAM_LIMITS = {
  /** The whole credential header. */
  headerLength: 8192,
  usernameLength: 256,
  algorithmLength: 32,
  headersLength: 2048,
  headerNames: 64,
  /** base64 of an HMAC-SHA512 is 88 characters. */
  signatureLength: 256,
} as const;

export interface HmacParams {
  readonly username: string;
  readonly algorithm: string;
  /** Lower-cased names of the signed headers, in signing order. */
  readonly headers: readonly string[];
  /** The signature as sent (base64 text). */
  readonly signature: string;
}

export type HmacParseResult = { readonly ok: true; readonly params: HmacParams } | { readonly ok: false; readonly error: string };

const PARAM_NAMES = new Set(["username", "algorithm", "headers", "signature"]);
const PARAM_MAX: Readonly<Record<string, number>> = {
  username: HMAC_PARAM_LIMITS.usernameLength,
  algorithm: HMAC_PARAM_LIMITS.algorithmLength,
  headers: HMAC_PARAM_LIMITS.headersLength,
  signature: HMAC_PARAM_LIMITS.signatureLength,
};
/** A header field name (RFC 9110 token), or the @request-target pseudo-header. */
export const SIGNED_HEADER_NAME = /^(?:[!#$%&'*+.^_`|~0-9a-z-]{1,256}|@request-target)$/;

/** True when the value uses the hmac scheme (case-insensitive), i.e. is a credential for this provider. */
export function isHmacScheme(value: string): boolean {
  let i = 0;
  while (i < value.length && (value[i] === " " || value[i] === "\t")) i++;
  if (value.length < i + 4 || value.slice(i, i + 4).toLowerCase() !== "hmac") return false;
  const next = value[i + 4];
  return next === undefined || next === " " || next === "\t";
}

function isWs(c: string | undefined): boolean {
  return c === " " || c === "\t";
}

/** plain-string characters: %x20-21 / %x23-5B / %x5D-7E. */
function isPlainChar(code: number): boolean {
  return code >= 0x20 && code <= 0x7e && code !== 0x22 && code !== 0x5c;
}

const fail = (error: string): HmacParseResult => ({ ok: false, error });

/** Parses a value for which isHmacScheme is true. */
export function parseHmacCredentials(value: string): HmacParseResult {
  if (value.length > HMAC_PARAM_LIMITS.headerLength) return fail(`credentials longer than ${HMAC_PARAM_LIMITS.headerLength} characters`);
  let i = 0;
  while (isWs(value[i])) i++;
  i += 4; // "hmac"
  const params = new Map<string, string>();
  for (;;) {
    while (isWs(value[i]) || value[i] === ",") i++;
    if (i >= value.length) break;
    const nameStart = i;
    while (i < value.length && /[A-Za-z0-9_-]/.test(value[i]!)) i++;
    const name = value.slice(nameStart, i).toLowerCase();
    if (name.length === 0) return fail(`unexpected character at position ${i}`);
    if (name.length > 32) return fail("a parameter name is too long");
    while (isWs(value[i])) i++;
    if (value[i] !== "=") return fail(`parameter "${name}" has no value`);
    i++;
    while (isWs(value[i])) i++;
    if (value[i] !== '"') return fail(`the value of "${name}" is not a quoted string`);
    i++;
    const valueStart = i;
    while (i < value.length && value[i] !== '"') {
      if (!isPlainChar(value.charCodeAt(i))) return fail(`the value of "${name}" holds a character that is not allowed`);
      i++;
    }
    if (i >= value.length) return fail(`the value of "${name}" has no closing quote`);
    const v = value.slice(valueStart, i);
    i++;
    if (!PARAM_NAMES.has(name)) return fail(`unknown parameter "${name}" (expected username, algorithm, headers, signature)`);
    if (params.has(name)) return fail(`parameter "${name}" is given twice`);
    if (v.length > PARAM_MAX[name]!) return fail(`the value of "${name}" is longer than ${PARAM_MAX[name]} characters`);
    params.set(name, v);
    while (isWs(value[i])) i++;
    if (i < value.length && value[i] !== ",") return fail(`expected "," after the value of "${name}"`);
  }
  for (const required of ["username", "algorithm", "signature"]) {
    if (!params.get(required)) return fail(`parameter "${required}" is missing or empty`);
  }
  const headers = parseHeaderList(params.get("headers"));
  if (typeof headers === "string") return fail(headers);
  return {
    ok: true,
    params: { username: params.get("username")!, algorithm: params.get("algorithm")!, headers, signature: params.get("signature")! },
  };
}

/** The signed header names, lower-cased; a string is the error. Absent means ["date"]. */
function parseHeaderList(text: string | undefined): string[] | string {
  if (text === undefined) return ["date"];
  if (text.length === 0) return 'parameter "headers" is empty';
  // Kong splits on single spaces; an empty name (two spaces, or one at either end) is refused rather than signed as ":".
  const names = text.split(" ");
  if (names.length > HMAC_PARAM_LIMITS.headerNames) return `more than ${HMAC_PARAM_LIMITS.headerNames} names in "headers"`;
  const out: string[] = [];
  for (const n of names) {
    const lower = n.toLowerCase();
    if (!SIGNED_HEADER_NAME.test(lower)) {
      return n.length === 0 ? '"headers" holds an empty name (names are separated by one space)' : `"headers" holds an invalid header name`;
    }
    out.push(lower);
  }
  return out;
}
