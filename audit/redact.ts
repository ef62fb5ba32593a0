/**
 * Secret hygiene: a safety net run on every append. Callers must not put
 * secrets in events; this catches the mistakes that slip through, erring on
 * the side of redacting too much.
 *
 * Rules:
 * - A details key (at any depth) whose name looks secret has its whole value
 *   (scalar, object or array) replaced by "[REDACTED]". The name is compared
 *   lowercased with everything but [a-z0-9] removed ("API-Key" → "apikey"):
 *   it is secret if it contains one of SECRET_NAME_PARTS, or ends in "key"
 *   or "keys" (private_key, signing_keys, key, ...) but not "publickey(s)".
 *   A name ending in an EXEMPT_SUFFIXES entry ("token_id", "key_type",
 *   "signature_alg", "password_valid") describes a secret without holding
 *   it and is kept.
 * - Any string value (and actor/subject/reason, via redactString) has these
 *   replaced: a PEM private-key block (also a truncated one, up to the end of
 *   the string) → "[REDACTED]"; "Bearer <token68>" → "Bearer [REDACTED]";
 *   "Basic <base64 of user:password>" → "Basic [REDACTED]"; a JWT/JWE
 *   compact serialization (eyJ….….) → "[REDACTED]".
 */
import { AuditError } from "./errors.js";
import type { JsonValue } from "./event.js";

export const REDACTED = "[REDACTED]";

const SECRET_NAME_PARTS = [
  "password",
  "passwd",
  "passphrase",
  "secret",
  "token",
  "apikey",
  "privatekey",
  "privkey",
  "keymaterial",
  "cookie",
  "signature",
  "authorization",
  "credential",
];

const EXEMPT_SUFFIXES = [
  "id",
  "ids",
  "type",
  "types",
  "count",
  "alg",
  "algorithm",
  "fingerprint",
  "ttl",
  "expiry",
  "expiresat",
  "length",
  "present",
  "valid",
  "name",
];

// Key names repeat endlessly across events: remember the verdicts (bounded).
const verdicts = new Map<string, boolean>();
const VERDICT_CACHE_MAX = 4096;

/** Whether a details key names a secret (see the module comment for the rule). */
export function isSecretKeyName(name: string): boolean {
  let verdict = verdicts.get(name);
  if (verdict === undefined) {
    verdict = judgeKeyName(name);
    if (verdicts.size >= VERDICT_CACHE_MAX) verdicts.clear();
    verdicts.set(name, verdict);
  }
  return verdict;
}

function judgeKeyName(name: string): boolean {
  const n = name.toLowerCase().replace(/[^a-z0-9]/g, "");
  if (n === "pwd") return true;
  const secret =
    SECRET_NAME_PARTS.some((part) => n.includes(part)) || /(?<!public)keys?$/.test(n);
  if (!secret) return false;
  return !EXEMPT_SUFFIXES.some((suffix) => n.endsWith(suffix) && n.length > suffix.length);
}

// A private-key PEM block; an unterminated one is redacted to the end.
const PEM_PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g;
// RFC 6750 token68 after the Bearer scheme.
const BEARER = /\b(bearer)(\s+)[A-Za-z0-9\-._~+/]+=*/gi;
const BASIC = /\b(basic)(\s+)([A-Za-z0-9+/]+={0,2})/gi;
const JWT = /\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_.-]*/g;
// Cheap pre-test so ordinary strings skip the replacements.
const SUSPICIOUS = /PRIVATE KEY|bearer|basic|eyJ/i;

/** A Basic credential is base64("user:password"): only redact what decodes to that shape. */
function looksLikeBasicCredential(token: string): boolean {
  if (token.length < 4) return false;
  const decoded = Buffer.from(token, "base64").toString("latin1");
  return decoded.includes(":");
}

/** Redacts credentials embedded in a string (see the module comment). */
export function redactString(value: string): string {
  if (!SUSPICIOUS.test(value)) return value;
  return value
    .replace(PEM_PRIVATE_KEY, REDACTED)
    .replace(JWT, REDACTED)
    .replace(BEARER, (_m, scheme: string, space: string) => `${scheme}${space}${REDACTED}`)
    .replace(BASIC, (m: string, scheme: string, space: string, token: string) =>
      looksLikeBasicCredential(token) ? `${scheme}${space}${REDACTED}` : m,
    );
}

/** Sets an own enumerable property, even for the key "__proto__" (plain assignment would set the prototype). */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

function redactValue(value: unknown, depth: number, maxDepth: number): unknown {
  if (typeof value === "string") return redactString(value);
  if (value === null || typeof value !== "object") return value;
  if (depth >= maxDepth) {
    throw new AuditError("invalid_event", `details nested deeper than ${maxDepth} levels`);
  }
  if (Array.isArray(value)) {
    // Array.from keeps holes visible as undefined, which the canonicalizer rejects.
    return Array.from(value, (item: unknown) => redactValue(item, depth + 1, maxDepth));
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value; // not JSON; rejected later
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    setOwn(out, key, isSecretKeyName(key) ? REDACTED : redactValue(item, depth + 1, maxDepth));
  }
  return out;
}

/**
 * Returns a redacted deep copy of details; the input is not modified.
 * Throws AuditError("invalid_event") past maxDepth nested containers
 * (the details object itself is level 1), which also stops cycles.
 */
export function redactDetails(details: Record<string, JsonValue>, maxDepth = 32): Record<string, JsonValue> {
  return redactValue(details, 0, maxDepth) as Record<string, JsonValue>;
}
