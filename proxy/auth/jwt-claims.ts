/**
 * Checks on a verified claims set (RFC 7519 section 4.1) and what is derived
 * from it: the principal, claim headers and required claims. Only ever run
 * after the signature is verified.
 */

export interface ClaimRules {
  readonly issuer: string;
  /** Any one must appear in `aud`; undefined = audience not checked. */
  readonly audiences?: ReadonlySet<string>;
  readonly skewMs: number;
  readonly requireExp: boolean;
  readonly maxLifetimeMs?: number;
}

export type ClaimCheck =
  | { readonly ok: true; readonly principal: string; readonly expMs?: number }
  | { readonly ok: false; readonly code: string; readonly reason: string; readonly principal?: string };

const MAX_PRINCIPAL = 2048;
const MAX_PATH_DEPTH = 8;

function numericDate(payload: Record<string, unknown>, name: string): number | undefined | null {
  const v = payload[name];
  if (v === undefined) return undefined;
  return typeof v === "number" && Number.isFinite(v) ? v * 1000 : null;
}

export function checkClaims(payload: Record<string, unknown>, rules: ClaimRules, nowMs: number): ClaimCheck {
  const iss = payload.iss;
  const sub = payload.sub;
  const principal =
    typeof iss === "string" && typeof sub === "string" && iss.length + sub.length < MAX_PRINCIPAL ? `${iss}/${sub}` : undefined;
  const fail = (code: string, reason: string): ClaimCheck => ({ ok: false, code, reason, ...(principal ? { principal } : {}) });
  if (iss !== rules.issuer) return fail("jwt_wrong_issuer", typeof iss === "string" ? "the token's issuer is not the configured one" : "the token has no iss");
  if (typeof sub !== "string" || sub.length === 0) return fail("jwt_missing_subject", "the token has no sub");
  if (!principal) return fail("jwt_bad_claim", "iss and sub are too long");
  const exp = numericDate(payload, "exp");
  const nbf = numericDate(payload, "nbf");
  const iat = numericDate(payload, "iat");
  if (exp === null || nbf === null || iat === null) return fail("jwt_bad_claim", "exp, nbf and iat must be numbers (seconds since the epoch)");
  if (exp === undefined && rules.requireExp) return fail("jwt_missing_exp", "the token has no exp");
  if (exp !== undefined && nowMs >= exp + rules.skewMs) return fail("jwt_expired", "the token has expired");
  if (nbf !== undefined && nowMs + rules.skewMs < nbf) return fail("jwt_not_yet_valid", "the token is not valid yet (nbf)");
  if (iat !== undefined && nowMs + rules.skewMs < iat) return fail("jwt_not_yet_valid", "the token was issued in the future (iat)");
  if (rules.maxLifetimeMs !== undefined) {
    const start = iat ?? nbf;
    if (exp === undefined || start === undefined) return fail("jwt_lifetime_too_long", "the token's lifetime cannot be bounded (needs exp and iat or nbf)");
    if (exp - start > rules.maxLifetimeMs) return fail("jwt_lifetime_too_long", "the token's lifetime is longer than max_lifetime");
  }
  if (rules.audiences) {
    const aud = payload.aud;
    const list = typeof aud === "string" ? [aud] : Array.isArray(aud) ? aud : undefined;
    if (aud !== undefined && (!list || list.some((a) => typeof a !== "string"))) return fail("jwt_bad_claim", "aud must be a string or a list of strings");
    if (!list || !list.some((a) => rules.audiences!.has(a as string))) {
      return fail("jwt_wrong_audience", list ? "no audience of the token is accepted" : "the token has no aud");
    }
  }
  return { ok: true, principal, ...(exp !== undefined ? { expMs: exp } : {}) };
}

/** A claim by exact top-level name, else by a dotted path into nested objects ("realm.roles"). */
export function claimValue(payload: Readonly<Record<string, unknown>>, name: string): unknown {
  if (Object.hasOwn(payload, name)) return payload[name];
  if (!name.includes(".")) return undefined;
  const path = name.split(".");
  if (path.length > MAX_PATH_DEPTH) return undefined;
  let cur: unknown = payload;
  for (const seg of path) {
    if (typeof cur !== "object" || cur === null || Array.isArray(cur) || !Object.hasOwn(cur, seg)) return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}

export type RequiredValue = string | number | boolean;

function matches(actual: unknown, expected: RequiredValue | readonly RequiredValue[]): boolean {
  const wanted: readonly RequiredValue[] = Array.isArray(expected) ? expected : [expected as RequiredValue];
  const have = Array.isArray(actual) ? actual : [actual];
  return have.some((v) => wanted.includes(v as RequiredValue));
}

/** The first required claim the token lacks (or holds with another value), or undefined. */
export function missingClaim(
  payload: Readonly<Record<string, unknown>>,
  required: Readonly<Record<string, RequiredValue | readonly RequiredValue[]>>,
): string | undefined {
  for (const [name, expected] of Object.entries(required)) {
    if (!matches(claimValue(payload, name), expected)) return name;
  }
  return undefined;
}

// Control characters (tab aside) would split or corrupt the header.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;

function scalar(v: unknown): string {
  return typeof v === "string" ? v : typeof v === "number" || typeof v === "boolean" ? String(v) : JSON.stringify(v);
}

/**
 * A claim as a header value: strings as they are, arrays joined by ",",
 * objects as JSON. Non-ASCII text is sent as its UTF-8 bytes (Node writes
 * header strings as latin1, one byte per char). Undefined when the claim is
 * absent, null, or would not be a safe header value.
 */
export function headerValue(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  const text = Array.isArray(v) ? v.map(scalar).join(",") : scalar(v);
  if (text === undefined || CONTROL.test(text)) return undefined;
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(text) ? text : Buffer.from(text, "utf8").toString("latin1");
}

export function deepFreeze<T>(v: T): T {
  if (typeof v === "object" && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const child of Object.values(v)) deepFreeze(child);
  }
  return v;
}
