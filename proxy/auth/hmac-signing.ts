/**
 * The pieces of Kong's hmac-auth check: the signing string, HTTP dates, the
 * body digest and the signature comparison.
 *
 * Signing string (Kong's create_hash), one line per name in `headers`, in
 * that order, joined by "\n" with no trailing newline:
 *   request-line     `<METHOD> <path?query> HTTP/1.1`
 *   @request-target  `@request-target: <method lower-cased> <path?query>`
 *   any other name   `<name>: <value>`
 * <path?query> is FilterRequest.url (the normalised path with the query);
 * the version is always HTTP/1.1 because filters do not see the request's
 * version. Kong signs a listed header that is absent as `<name>:`; here it is
 * refused instead (see hmac.ts), so this returns the missing name.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { FilterRequest } from "../filters/types.js";

export const HMAC_ALGORITHMS = ["hmac-sha1", "hmac-sha256", "hmac-sha384", "hmac-sha512"] as const;
export type HmacAlgorithm = (typeof HMAC_ALGORITHMS)[number];

const DIGEST_NAME: Readonly<Record<HmacAlgorithm, string>> = {
  "hmac-sha1": "sha1",
  "hmac-sha256": "sha256",
  "hmac-sha384": "sha384",
  "hmac-sha512": "sha512",
};

export function isHmacAlgorithm(name: string): name is HmacAlgorithm {
  return Object.hasOwn(DIGEST_NAME, name);
}

/** A request header's value as one string (Node joins most repeated headers with ", " already). */
export function headerValue(req: FilterRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(", ") : v;
}

/** The signing string, or `{ missing }` naming the first listed header the request does not carry. */
export function signingString(req: FilterRequest, names: readonly string[]): string | { readonly missing: string } {
  const lines: string[] = [];
  for (const name of names) {
    if (name === "request-line") {
      lines.push(`${req.method} ${req.url} HTTP/1.1`);
    } else if (name === "@request-target") {
      lines.push(`@request-target: ${req.method.toLowerCase()} ${req.url}`);
    } else {
      const v = headerValue(req, name);
      if (v === undefined) return { missing: name };
      lines.push(`${name}: ${v}`);
    }
  }
  return lines.join("\n");
}

export function computeHmac(algorithm: HmacAlgorithm, secret: Buffer, text: string): Buffer {
  return createHmac(DIGEST_NAME[algorithm], secret).update(text, "utf8").digest();
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Standard base64 (padded, as Kong's ngx.decode_base64 expects), or undefined. */
export function decodeBase64(text: string): Buffer | undefined {
  return text.length > 0 && BASE64.test(text) ? Buffer.from(text, "base64") : undefined;
}

/**
 * Constant-time equality. Lengths are compared first (a length is not
 * secret: every signature of an algorithm has the same one), so
 * timingSafeEqual only ever sees equal-length buffers and never throws.
 */
export function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The Digest header value Kong expects for a body: `SHA-256=<base64 of sha256(body)>`. */
export function bodyDigest(body: Buffer): string {
  return "SHA-256=" + createHash("sha256").update(body).digest("base64");
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const DAY = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)";
const LONG_DAY = "(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)";
const MON = "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)";
const TIME = "(\\d{2}):(\\d{2}):(\\d{2})";
/** IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT` (what clients send). */
const IMF = new RegExp(`^${DAY}, (\\d{2}) ${MON} (\\d{4}) ${TIME} GMT$`);
/** Obsolete RFC 850: `Sunday, 06-Nov-94 08:49:37 GMT`. */
const RFC850 = new RegExp(`^${LONG_DAY}, (\\d{2})-${MON}-(\\d{2}) ${TIME} GMT$`);
/** Obsolete asctime: `Sun Nov  6 08:49:37 1994`. */
const ASCTIME = new RegExp(`^${DAY} ${MON} ([ \\d]\\d) ${TIME} (\\d{4})$`);

/**
 * Milliseconds since the epoch of an HTTP-date (RFC 9110 section 5.6.7: the
 * three formats ngx.parse_http_time reads), or undefined. The weekday is not
 * cross-checked.
 */
export function parseHttpDate(text: string, nowMs: number): number | undefined {
  if (text.length > 64) return undefined;
  let day: string, mon: string, year: number, h: string, m: string, s: string;
  let r = IMF.exec(text);
  if (r) {
    [, day, mon, , h, m, s] = r as unknown as string[];
    year = Number(r[3]);
  } else if ((r = RFC850.exec(text))) {
    [, day, mon, , h, m, s] = r as unknown as string[];
    // A two-digit year more than 50 years in the future means the past century (RFC 9110).
    const nowYear = new Date(nowMs).getUTCFullYear();
    year = Math.floor(nowYear / 100) * 100 + Number(r[3]);
    if (year > nowYear + 50) year -= 100;
  } else if ((r = ASCTIME.exec(text))) {
    [, mon, day, h, m, s] = r as unknown as string[];
    year = Number(r[6]);
  } else {
    return undefined;
  }
  const month = MONTHS.indexOf(mon!);
  const d = Number(day!.trim());
  const ms = Date.UTC(year, month, d, Number(h!), Number(m!), Number(s!));
  const back = new Date(ms);
  // Refuse impossible dates (31 Feb, 25:00, 61 s) rather than letting Date.UTC roll them over,
  // and years below 100, which Date.UTC would read as 19xx.
  const fields = [back.getUTCFullYear(), back.getUTCMonth(), back.getUTCDate(), back.getUTCHours(), back.getUTCMinutes(), back.getUTCSeconds()];
  const wanted = [year, month, d, Number(h!), Number(m!), Number(s!)];
  return fields.every((f, i) => f === wanted[i]) ? ms : undefined;
}
