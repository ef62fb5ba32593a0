/**
 * Finds the token in a request: configured headers (with a value prefix such
 * as "Bearer "), query parameters and cookies. A header whose value lacks
 * the prefix is not ours (an `Authorization: Basic` belongs to another
 * provider). More than one token, or one name given twice, is ambiguous and
 * refused: which of two tokens was checked would otherwise depend on order.
 */
import type { FilterRequest } from "../filters/types.js";

export interface TokenSources {
  readonly headers: ReadonlyArray<{ readonly name: string; readonly value_prefix: string }>;
  readonly params: readonly string[];
  readonly cookies: readonly string[];
}

/** Where the token was found, so it can be removed before forwarding. */
export interface TokenLocation {
  readonly stripHeaders: readonly string[];
  readonly stripQuery: readonly string[];
  /** The cookie header without the token cookie (other cookies stay). */
  readonly cookieRest?: string;
}

export type Extraction =
  | { readonly kind: "none" }
  | { readonly kind: "fail"; readonly code: string; readonly reason: string }
  | { readonly kind: "token"; readonly token: string; readonly where: TokenLocation };

const NONE: Extraction = { kind: "none" };

function ambiguous(): Extraction {
  return { kind: "fail", code: "jwt_ambiguous", reason: "more than one token in the request" };
}

function startsWithCi(v: string, prefix: string): boolean {
  return v.length >= prefix.length && v.slice(0, prefix.length).toLowerCase() === prefix.toLowerCase();
}

function decodeComponent(s: string): string | undefined {
  try {
    return decodeURIComponent(s.replace(/\+/g, " "));
  } catch {
    return undefined;
  }
}

interface Found {
  token: string;
  where: TokenLocation;
}

export function extractToken(req: FilterRequest, src: TokenSources): Extraction {
  const found: Found[] = [];
  for (const { name, value_prefix: prefix } of src.headers) {
    const raw = req.headers[name];
    if (raw === undefined) continue;
    if (Array.isArray(raw)) {
      if (raw.length === 0) continue;
      if (raw.length > 1) return ambiguous();
    }
    const v = Array.isArray(raw) ? raw[0]! : raw;
    if (!startsWithCi(v, prefix)) continue;
    found.push({ token: v.slice(prefix.length).trim(), where: { stripHeaders: [name], stripQuery: [] } });
  }
  if (src.params.length > 0 && req.query.length > 0) {
    for (const pair of req.query.split("&")) {
      const eq = pair.indexOf("=");
      const name = decodeComponent(eq < 0 ? pair : pair.slice(0, eq));
      if (name === undefined || !src.params.includes(name)) continue;
      const value = decodeComponent(eq < 0 ? "" : pair.slice(eq + 1));
      if (value === undefined) return { kind: "fail", code: "jwt_malformed", reason: `query parameter "${name}" is not valid percent-encoding` };
      found.push({ token: value, where: { stripHeaders: [], stripQuery: [name] } });
    }
  }
  if (src.cookies.length > 0) {
    const cookie = req.headers.cookie;
    if (typeof cookie === "string" && cookie.length > 0) {
      const pairs = cookie.split(";").map((p) => p.trim()).filter((p) => p.length > 0);
      pairs.forEach((pair, i) => {
        const eq = pair.indexOf("=");
        if (eq < 0 || !src.cookies.includes(pair.slice(0, eq).trim())) return;
        let value = pair.slice(eq + 1).trim();
        if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
        const rest = pairs.filter((_, j) => j !== i).join("; ");
        found.push({ token: value, where: rest ? { stripHeaders: [], stripQuery: [], cookieRest: rest } : { stripHeaders: ["cookie"], stripQuery: [] } });
      });
    }
  }
  if (found.length === 0) return NONE;
  if (found.length > 1) return ambiguous();
  const only = found[0]!;
  if (only.token.length === 0) return { kind: "fail", code: "jwt_malformed", reason: "the token is empty" };
  return { kind: "token", token: only.token, where: only.where };
}
