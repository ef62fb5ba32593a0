/**
 * Reads `Authorization: Basic <base64(user:password)>` (RFC 7617). Anything
 * else in the header is malformed: another scheme, bad base64, no colon, a
 * header over 4 KiB, bytes that are not UTF-8. The reason given for a
 * malformed header says what is wrong, never what was sent.
 */

export const BASIC_HEADER_LIMITS = {
  /** Longest Authorization value accepted, in bytes. */
  headerBytes: 4096,
  /** Longest user name, in characters. */
  userLength: 256,
} as const;

export type BasicCredentials =
  | { readonly kind: "missing" }
  | { readonly kind: "malformed"; readonly why: string }
  | { readonly kind: "credentials"; readonly user: string; readonly password: string };

const MISSING: BasicCredentials = { kind: "missing" };
const SCHEME = /^basic(?: +|$)/i;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const utf8 = new TextDecoder("utf-8", { fatal: true });

function malformed(why: string): BasicCredentials {
  return { kind: "malformed", why };
}

export function parseBasicAuthorization(value: string | string[] | undefined): BasicCredentials {
  if (value === undefined) return MISSING;
  if (Array.isArray(value)) return malformed("more than one Authorization header");
  // Header values are bytes as latin1 characters, so length is the size in bytes.
  if (value.length > BASIC_HEADER_LIMITS.headerBytes) return malformed(`Authorization header over ${BASIC_HEADER_LIMITS.headerBytes} bytes`);
  const text = value.trim();
  const scheme = SCHEME.exec(text);
  if (!scheme) return malformed("not the Basic scheme");
  const token = text.slice(scheme[0].length);
  if (token === "") return malformed("no credentials after Basic");
  const unpadded = token.replace(/=+$/, "");
  if (!BASE64.test(token) || unpadded.length % 4 === 1 || (token.length !== unpadded.length && token.length % 4 !== 0)) {
    return malformed("credentials are not valid base64");
  }
  let decoded: string;
  try {
    decoded = utf8.decode(Buffer.from(unpadded, "base64"));
  } catch {
    return malformed("credentials are not valid UTF-8");
  }
  const colon = decoded.indexOf(":");
  if (colon < 0) return malformed("no ':' between user name and password");
  const user = decoded.slice(0, colon);
  if (user === "") return malformed("empty user name");
  if (user.length > BASIC_HEADER_LIMITS.userLength) return malformed(`user name over ${BASIC_HEADER_LIMITS.userLength} characters`);
  if (CONTROL.test(user)) return malformed("control characters in the user name");
  return { kind: "credentials", user, password: decoded.slice(colon + 1) };
}
