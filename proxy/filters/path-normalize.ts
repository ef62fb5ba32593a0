/**
 * Request-path normalisation before anything matches on the path (authz,
 * routing), so that `/a/../admin`, `//admin`, `/%61dmin` or `/admin/.` cannot
 * slip past a rule written for `/admin`. It follows Istio's BASE +
 * MERGE_SLASHES options (Envoy's normalize_path + merge_slashes):
 *
 * - percent-encoded unreserved characters (ALPHA, DIGIT, `-`, `.`, `_`, `~`)
 *   are decoded, once (no double decoding: `%252e` stays `%252e`); any other
 *   escape is kept, with its hex digits upper-cased;
 * - a backslash is a slash (`\a` is `/a`);
 * - runs of slashes are merged (`//a///b` is `/a/b`);
 * - `.` and `..` segments are resolved as RFC 3986 §5.2.4 says, never above `/`.
 *
 * Refused (the request gets a 400), because no normalisation is safe for them:
 * an encoded slash or backslash (`%2F`, `%5C`: decoding changes what the app
 * sees, keeping them lets `/admin%2Fx` dodge a rule on `/admin/*`, which is
 * Envoy's REJECT_REQUEST for escaped slashes), `%00`, a malformed escape, a
 * space or control character, and a path not starting with `/`.
 *
 * The input is the path without the query string. A path that is already
 * normal is returned as the same string (no allocation on the fast path).
 */

export interface PathRejection {
  readonly rejected: true;
  /** Stable short code (goes into the denial's details). */
  readonly code: string;
  /** For humans; never holds the path itself. */
  readonly reason: string;
}

function rejection(code: string, reason: string): PathRejection {
  return Object.freeze({ rejected: true as const, code, reason });
}

/** Every way a path can be refused (constants, so a refusal allocates nothing). */
export const PATH_REJECTIONS = Object.freeze({
  notOrigin: rejection("path_not_absolute", "the request path must begin with /"),
  encodedSlash: rejection("path_encoded_slash", "the request path holds an encoded slash or backslash (%2F or %5C)"),
  nul: rejection("path_nul", "the request path holds %00"),
  badEscape: rejection("path_bad_escape", "the request path holds a malformed percent escape"),
  control: rejection("path_control_char", "the request path holds a space or control character"),
});

export function isPathRejection(v: string | PathRejection): v is PathRejection {
  return typeof v !== "string";
}

const SLASH = 0x2f;
const DOT = 0x2e;
const PERCENT = 0x25;
const BACKSLASH = 0x5c;
const HEX = "0123456789ABCDEF";

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** RFC 3986 unreserved: ALPHA / DIGIT / "-" / "." / "_" / "~". */
function isUnreserved(c: number): boolean {
  return (
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x2d ||
    c === DOT ||
    c === 0x5f ||
    c === 0x7e
  );
}

function isControl(c: number): boolean {
  return c <= 0x20 || c === 0x7f;
}

/**
 * Normalises a request path (see the module comment). Returns the normal
 * path, or a PathRejection (test with isPathRejection) when it must be refused.
 */
export function normalizePath(raw: string): string | PathRejection {
  const n = raw.length;
  if (n === 0 || raw.charCodeAt(0) !== SLASH) return PATH_REJECTIONS.notOrigin;
  // Fast path: nothing to decode, no backslash, no empty or dot segment.
  for (let i = 0; i < n; i++) {
    const c = raw.charCodeAt(i);
    if (c === PERCENT || c === BACKSLASH || isControl(c)) return slowNormalize(raw);
    if (c === SLASH) {
      const c1 = i + 1 < n ? raw.charCodeAt(i + 1) : -1;
      if (c1 === SLASH) return slowNormalize(raw);
      if (c1 === DOT) {
        const c2 = i + 2 < n ? raw.charCodeAt(i + 2) : -1;
        if (c2 === -1 || c2 === SLASH) return slowNormalize(raw);
        if (c2 === DOT) {
          const c3 = i + 3 < n ? raw.charCodeAt(i + 3) : -1;
          if (c3 === -1 || c3 === SLASH) return slowNormalize(raw);
        }
      }
    }
  }
  return raw;
}

function slowNormalize(raw: string): string | PathRejection {
  const out: string[] = [];
  let seg = "";
  let trailingSlash = false;
  const n = raw.length;
  const endSegment = (last: boolean): void => {
    if (seg === "" || seg === ".") {
      // merged slash or current-directory segment
    } else if (seg === "..") {
      out.pop();
    } else {
      out.push(seg);
      seg = "";
      return;
    }
    if (last) trailingSlash = true;
    seg = "";
  };
  for (let i = 1; i < n; i++) {
    const c = raw.charCodeAt(i);
    if (c === PERCENT) {
      const h = i + 2 < n ? hexValue(raw.charCodeAt(i + 1)) : -1;
      const l = i + 2 < n ? hexValue(raw.charCodeAt(i + 2)) : -1;
      if (h < 0 || l < 0) return PATH_REJECTIONS.badEscape;
      const v = h * 16 + l;
      if (v === 0) return PATH_REJECTIONS.nul;
      if (v === SLASH || v === BACKSLASH) return PATH_REJECTIONS.encodedSlash;
      seg += isUnreserved(v) ? String.fromCharCode(v) : "%" + HEX[h] + HEX[l];
      i += 2;
    } else if (c === SLASH || c === BACKSLASH) {
      endSegment(false);
    } else if (isControl(c)) {
      return PATH_REJECTIONS.control;
    } else {
      seg += raw[i];
    }
  }
  endSegment(true);
  if (out.length === 0) return "/";
  return "/" + out.join("/") + (trailingSlash ? "/" : "");
}
