/**
 * Structural checks on a compact JWS before any key is touched: size, three
 * base64url segments, JSON objects, and a header that names an allowed
 * algorithm and nothing that would let the token choose its own key (jku,
 * x5u, jwk, x5c) or change how it is processed (crit, b64).
 */
import { JWT_LIMITS, type JwsAlg } from "./jwt-schema.js";

export interface ParsedJwt {
  readonly alg: JwsAlg;
  readonly kid?: string;
  readonly payload: Record<string, unknown>;
  /** The payload segment as received: base64url of exactly the signed bytes. */
  readonly payloadSegment: string;
}

export interface TokenProblem {
  readonly code: string;
  readonly reason: string;
}

const B64URL = /^[A-Za-z0-9_-]*$/;
const FORBIDDEN_HEADERS = ["jku", "x5u", "jwk", "x5c"] as const;
const utf8 = new TextDecoder("utf-8", { fatal: true });

function malformed(reason: string): TokenProblem {
  return { code: "jwt_malformed", reason };
}

function decodeSegment(seg: string, what: string): { readonly value: Record<string, unknown> } | TokenProblem {
  if (seg.length === 0 || !B64URL.test(seg) || seg.length % 4 === 1) return malformed(`the ${what} is not base64url`);
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(Buffer.from(seg, "base64url")));
  } catch {
    return malformed(`the ${what} is not JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return malformed(`the ${what} is not a JSON object`);
  return { value: value as Record<string, unknown> };
}

/** An algorithm name safe to echo in a reason (short, letters and digits). */
export function algLabel(alg: unknown): string {
  return typeof alg === "string" && /^[A-Za-z0-9]{1,16}$/.test(alg) ? alg : "an unsupported algorithm";
}

export function parseJwt(token: string, allowed: ReadonlySet<string>): ParsedJwt | TokenProblem {
  if (token.length > JWT_LIMITS.tokenBytes) {
    return { code: "jwt_too_large", reason: `the token is longer than ${JWT_LIMITS.tokenBytes} bytes` };
  }
  const parts = token.split(".");
  if (parts.length !== 3) {
    return malformed(parts.length === 5 ? "encrypted tokens (JWE) are not accepted" : `expected 3 dot-separated segments, got ${parts.length}`);
  }
  const [h, p, s] = parts as [string, string, string];
  const decodedHeader = decodeSegment(h, "header");
  if (!("value" in decodedHeader)) return decodedHeader;
  const header = decodedHeader.value;
  const alg = header.alg;
  if (typeof alg !== "string" || alg.length === 0) return malformed("the header has no alg");
  if (alg.toLowerCase() === "none") return { code: "jwt_alg_none", reason: "unsigned tokens (alg none) are not accepted" };
  if (!allowed.has(alg)) return { code: "jwt_alg_not_allowed", reason: `${algLabel(alg)} is not an allowed algorithm` };
  for (const name of FORBIDDEN_HEADERS) {
    if (Object.hasOwn(header, name)) {
      return { code: "jwt_header_forbidden", reason: `the header carries "${name}": keys never come from the token` };
    }
  }
  if (Object.hasOwn(header, "crit")) return { code: "jwt_crit_unsupported", reason: "the header lists critical extensions (crit)" };
  if (Object.hasOwn(header, "b64")) return { code: "jwt_crit_unsupported", reason: "unencoded payloads (b64) are not accepted" };
  const kid = header.kid;
  if (kid !== undefined && (typeof kid !== "string" || kid.length === 0 || kid.length > JWT_LIMITS.kidLength)) {
    return malformed(`kid must be a string of 1 to ${JWT_LIMITS.kidLength} characters`);
  }
  const payload = decodeSegment(p, "payload");
  if (!("value" in payload)) return payload;
  if (s.length === 0 || !B64URL.test(s) || s.length % 4 === 1) return malformed("the signature is not base64url");
  return { alg: alg as JwsAlg, ...(kid !== undefined ? { kid } : {}), payload: payload.value, payloadSegment: p };
}

export function isTokenProblem(v: ParsedJwt | TokenProblem): v is TokenProblem {
  return !("payloadSegment" in v);
}
