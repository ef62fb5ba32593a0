/**
 * Clients for the ingress's authenticated routes, written from the public
 * conventions rather than from the proxy's code: curl for HTTP (run without
 * blocking the event loop), a Kong hmac-auth signer on node:crypto, and JWTs
 * minted with jose's SignJWT (plus a hand-built `alg: none` token, as an
 * attacker would write one).
 */
import { createHmac } from "node:crypto";
import { importJWK, SignJWT, type JWK } from "jose";
import { runAsync } from "./env.js";

export interface CurlResult {
  /** HTTP status, 0 when curl got no response. */
  status: number;
  /** Response headers, lower-cased names (last value wins). */
  headers: Record<string, string>;
  body: string;
  /** curl's time_total in seconds. */
  seconds: number;
  /** curl's exit status. */
  exit: number | null;
  stderr: string;
}

export interface CurlOptions {
  /** Request headers as `Name: value`. */
  headers?: string[];
  /** `user:password` for curl's own Basic encoding (-u). */
  basic?: string;
  maxTimeSeconds?: number;
}

const MARK = "\n@@curl@@";

/** A quoted value for a curl config file. */
const configValue = (v: string): string => `"${v.replace(/[\\"]/g, "\\$&")}"`;

/**
 * One GET with curl; headers, body, status and timing parsed from its output.
 * Headers and the Basic user go in a config read from stdin (-K -): they stay
 * off the command line, and curl reads stdin to its end before it can exit,
 * so runAsync's write to stdin never meets a closed pipe.
 */
export async function curl(url: string, o: CurlOptions = {}): Promise<CurlResult> {
  const max = o.maxTimeSeconds ?? 15;
  const config = (o.headers ?? []).map((h) => `header = ${configValue(h)}\n`);
  if (o.basic !== undefined) config.push(`user = ${configValue(o.basic)}\n`);
  const args = ["-sS", "--max-time", String(max), "-D", "-", "-w", `${MARK}%{http_code} %{time_total}`, "-K", "-", url];
  const r = await runAsync("curl", args, config.join(""), (max + 5) * 1000);
  const cut = r.stdout.lastIndexOf(MARK);
  const [code, time] = (cut < 0 ? "0 0" : r.stdout.slice(cut + MARK.length)).trim().split(" ");
  const rest = cut < 0 ? r.stdout : r.stdout.slice(0, cut);
  const sep = rest.indexOf("\r\n\r\n");
  const head = sep < 0 ? rest : rest.slice(0, sep);
  const headers: Record<string, string> = {};
  for (const line of head.split("\r\n").slice(1)) {
    const i = line.indexOf(":");
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status: Number(code) || 0, headers, body: sep < 0 ? "" : rest.slice(sep + 4), seconds: Number(time) || 0, exit: r.status, stderr: r.stderr };
}

export { errorCode } from "./proxy-env.js";

/** An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), what HTTP clients put in Date. */
export function httpDate(d: Date): string {
  return d.toUTCString();
}

export interface HmacRequest {
  username: string;
  /** The shared secret; its UTF-8 bytes are the HMAC key, as in Kong. */
  secret: string;
  method: string;
  /** Path with query, exactly as sent on the request line. */
  target: string;
  date: string;
}

/**
 * Kong hmac-auth client, headers "date request-line": the signing string is
 * `date: <Date>\n<METHOD> <target> HTTP/1.1`, signed with HMAC-SHA256 and
 * sent base64 in the Authorization header.
 */
export function hmacAuthorization(r: HmacRequest): { authorization: string; signature: string } {
  const signingString = `date: ${r.date}\n${r.method} ${r.target} HTTP/1.1`;
  const signature = createHmac("sha256", Buffer.from(r.secret, "utf8")).update(signingString, "utf8").digest("base64");
  return { authorization: `hmac username="${r.username}", algorithm="hmac-sha256", headers="date request-line", signature="${signature}"`, signature };
}

export interface TokenClaims {
  iss: string;
  aud: string;
  sub: string;
  /** Seconds since the epoch. */
  iat: number;
  exp: number;
}

/** An ES256 JWT signed with the private JWK (its kid goes in the header). */
export async function signEs256(privateJwk: JWK, claims: TokenClaims): Promise<string> {
  const key = await importJWK(privateJwk, "ES256");
  const header = { alg: "ES256", typ: "JWT", ...(privateJwk.kid ? { kid: privateJwk.kid } : {}) };
  return new SignJWT({})
    .setProtectedHeader(header)
    .setIssuer(claims.iss)
    .setAudience(claims.aud)
    .setSubject(claims.sub)
    .setIssuedAt(claims.iat)
    .setExpirationTime(claims.exp)
    .sign(key);
}

/** An unsigned token (`alg: none`, empty signature segment), built by hand as an attacker would. */
export function unsignedJwt(claims: TokenClaims, kid?: string): string {
  const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v), "utf8").toString("base64url");
  return `${b64({ alg: "none", typ: "JWT", ...(kid ? { kid } : {}) })}.${b64(claims)}.`;
}
