/**
 * auth-cost set-up shared by the in-process and the through-the-proxy parts:
 * credential files in a temp dir (JWKS files with an ES256 and an RS256 key,
 * an HMAC consumers file, an htpasswd file with scrypt and bcrypt users, an
 * API-key file), the one `authn` config block both parts use, and the
 * client side: JWTs and HMAC signatures made here with node:crypto, not with
 * the proxy's own code, so a bug there cannot make both sides agree.
 */
import { createHash, createHmac, generateKeyPairSync, randomBytes, sign, type KeyObject } from "node:crypto";
import { join } from "node:path";
import { stringify } from "yaml";
import { writePublicFile, writeSecretFile } from "../pki/keys.js";
import { BASIC_DEFAULTS } from "../proxy/auth/basic-schema.js";
import { hashPassword } from "../proxy/auth/htpasswd-hash.js";
import type { FilterRequest } from "../proxy/filters/types.js";

export const ISSUER = "https://issuer.bench.example";
export const AUDIENCE = "bench-api";
export const JWT_SUB = "bench-user";
export const HMAC_USER = "partner-co";
export const API_CONSUMER = "ci-bot";
/** Basic users, one per hash kind; all share one password. */
export const BASIC_USERS = { scrypt: "ops-scrypt", bcrypt10: "ops-bcrypt10", bcrypt12: "ops-bcrypt12" } as const;
export type BasicKind = keyof typeof BASIC_USERS;
/** Size of the app's response body. */
export const APP_BODY_BYTES = 100;

/** What the app (auth-cost-app.ts) counted for one route. */
export interface RouteCounts {
  total: number;
  /** "<header>=<value>" → requests that carried it (x-consumer-username, x-user-id). */
  identity: Record<string, number>;
  /** Requests that still carried Authorization or apikey. */
  credential: number;
}

/** Users of the second htpasswd file, which fills a Basic verify cache to its default size (hot user among them). */
export const MANY_USERS = BASIC_DEFAULTS.verifyCacheEntries;
export const HOT_BASIC_USER = "ops-hot";
export const manyUser = (i: number): string => (i === 0 ? HOT_BASIC_USER : `user-${i}`);

/** Routes of the bench's listener; each protected one names its provider (none for `open`). */
export const ROUTES = ["open", "jwt-es", "jwt-rs", "hmac", "basic", "basic-cold", "basic-many", "key"] as const;
export type RouteName = (typeof ROUTES)[number];

export interface Credentials {
  dir: string;
  es: { privateKey: KeyObject; kid: string };
  rs: { privateKey: KeyObject; kid: string };
  hmacSecret: string;
  basicPassword: string;
  apiKey: string;
  files: { jwksEs: string; jwksRs: string; hmacConsumers: string; htpasswd: string; htpasswdMany: string; apiKeys: string };
}

const b64url = (b: Buffer | string): string => Buffer.from(b).toString("base64url");

/** Makes every key and credential file (hashing the Basic passwords takes a few seconds). */
export async function makeCredentials(dir: string): Promise<Credentials> {
  const es = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const rs = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = (k: KeyObject, kid: string, alg: string) => ({ ...k.export({ format: "jwk" }), kid, alg, use: "sig" });
  const files = {
    jwksEs: join(dir, "jwks-es.json"),
    jwksRs: join(dir, "jwks-rs.json"),
    hmacConsumers: join(dir, "hmac-consumers.yaml"),
    htpasswd: join(dir, "users.htpasswd"),
    htpasswdMany: join(dir, "many-users.htpasswd"),
    apiKeys: join(dir, "api-keys.yaml"),
  };
  writePublicFile(files.jwksEs, JSON.stringify({ keys: [jwk(es.publicKey, "bench-es", "ES256")] }));
  writePublicFile(files.jwksRs, JSON.stringify({ keys: [jwk(rs.publicKey, "bench-rs", "RS256")] }));
  const hmacSecret = randomBytes(32).toString("base64url");
  writeSecretFile(files.hmacConsumers, stringify([{ username: HMAC_USER, secret: hmacSecret }]));
  const basicPassword = randomBytes(12).toString("base64url");
  const lines = [
    `${BASIC_USERS.scrypt}:${await hashPassword(basicPassword, "scrypt", { ln: 15 })}`,
    `${BASIC_USERS.bcrypt10}:${await hashPassword(basicPassword, "bcrypt", { cost: 10 })}`,
    `${BASIC_USERS.bcrypt12}:${await hashPassword(basicPassword, "bcrypt", { cost: 12 })}`,
  ];
  writeSecretFile(files.htpasswd, lines.join("\n") + "\n");
  // scrypt ln=4: only cache hits are timed on this file, so filling its cache should not take minutes
  const many: string[] = [];
  for (let i = 0; i < MANY_USERS; i++) many.push(`${manyUser(i)}:${await hashPassword(basicPassword, "scrypt", { ln: 4 })}`);
  writeSecretFile(files.htpasswdMany, many.join("\n") + "\n");
  const apiKey = `bench_${randomBytes(24).toString("base64url")}`;
  writeSecretFile(files.apiKeys, stringify([{ consumer: API_CONSUMER, key_sha256: createHash("sha256").update(apiKey).digest("hex") }]));
  return { dir, es: { privateKey: es.privateKey, kid: "bench-es" }, rs: { privateKey: rs.privateKey, kid: "bench-rs" }, hmacSecret, basicPassword, apiKey, files };
}

/**
 * The `authn` block: the demo's provider settings (cli/demo/configs.ts), one
 * route per provider. `basic-cold` remembers no success (verify_cache 0s), so
 * every check pays the full bcrypt or scrypt; `basic-many` has enough users
 * to fill its verify cache.
 */
export function authnBlock(c: Credentials) {
  const jwt = (file: string, alg: string) => ({ jwt: { issuer: ISSUER, audiences: [AUDIENCE], jwks_file: file, algorithms: [alg], claim_to_headers: [{ claim: "sub", header: "x-user-id" }] } });
  return {
    providers: {
      "jwt-es": jwt(c.files.jwksEs, "ES256"),
      "jwt-rs": jwt(c.files.jwksRs, "RS256"),
      hmac: { hmac: { consumers_file: c.files.hmacConsumers, enforce_headers: ["date", "request-line"] } },
      basic: { basic: { htpasswd_file: c.files.htpasswd } },
      "basic-cold": { basic: { htpasswd_file: c.files.htpasswd, verify_cache: "0s" } },
      "basic-many": { basic: { htpasswd_file: c.files.htpasswdMany } },
      key: { api_key: { keys_file: c.files.apiKeys } },
    },
    rules: ROUTES.filter((r) => r !== "open").map((r) => ({ routes: [r], require: r })),
  };
}

let jti = 0;

/** A compact JWS (ES256 or RS256) for the bench user, valid for an hour. */
export function makeJwt(c: Credentials, alg: "ES256" | "RS256", nowMs = Date.now()): string {
  const key = alg === "ES256" ? c.es : c.rs;
  const iat = Math.floor(nowMs / 1000);
  const header = b64url(JSON.stringify({ alg, typ: "JWT", kid: key.kid }));
  // jti makes every token distinct, so a fresh one always misses the verified-token cache
  const payload = b64url(JSON.stringify({ iss: ISSUER, sub: JWT_SUB, aud: AUDIENCE, iat, exp: iat + 3600, jti: `t${++jti}` }));
  const input = `${header}.${payload}`;
  const sig = alg === "ES256" ? sign("sha256", Buffer.from(input), { key: key.privateKey, dsaEncoding: "ieee-p1363" }) : sign("sha256", Buffer.from(input), key.privateKey);
  return `${input}.${b64url(sig)}`;
}

let nonce = 0;

export interface SignedRequest {
  /** Path with the query that makes it unique (`/hmac/hello?n=17`). */
  url: string;
  date: string;
  authorization: string;
}

/**
 * A Kong hmac-auth signed GET (hmac-sha256 over `date` and `request-line`),
 * each with a new `n` in the query so that no two signatures are the same
 * (the provider refuses a signature it has accepted before).
 */
export function signHmac(c: Pick<Credentials, "hmacSecret">, route: string, nowMs = Date.now()): SignedRequest {
  const url = `/${route}/hello?n=${++nonce}`;
  const date = new Date(nowMs).toUTCString();
  const text = `date: ${date}\nGET ${url} HTTP/1.1`;
  const signature = createHmac("sha256", c.hmacSecret).update(text, "utf8").digest("base64");
  return { url, date, authorization: `hmac username="${HMAC_USER}", algorithm="hmac-sha256", headers="date request-line", signature="${signature}"` };
}

export function basicAuthorization(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, "utf8").toString("base64")}`;
}

/** A FilterRequest as the ingress listener hands it to the filter chain. */
export function filterRequest(route: string, url: string, headers: Record<string, string>): FilterRequest {
  const q = url.indexOf("?");
  return {
    method: "GET",
    url,
    path: q < 0 ? url : url.slice(0, q),
    query: q < 0 ? "" : url.slice(q + 1),
    host: "127.0.0.1",
    port: 8080,
    headers: { host: "127.0.0.1:8080", "user-agent": "auth-cost", accept: "*/*", ...headers },
    listener: "ingress",
    listenerName: "ingress",
    route,
    remoteAddress: "127.0.0.1",
    requestId: "bench",
  };
}

/** What a successful decision leaves on the request: the principal and the identity header the upstream gets. */
export function expectedIdentity(route: RouteName, basicUser: string = BASIC_USERS.scrypt): { principal: string; header: string; value: string } | undefined {
  switch (route) {
    case "open":
      return undefined;
    case "jwt-es":
    case "jwt-rs":
      return { principal: `${ISSUER}/${JWT_SUB}`, header: "x-user-id", value: JWT_SUB };
    case "hmac":
      return { principal: HMAC_USER, header: "x-consumer-username", value: HMAC_USER };
    case "basic":
    case "basic-cold":
    case "basic-many":
      return { principal: basicUser, header: "x-consumer-username", value: basicUser };
    case "key":
      return { principal: API_CONSUMER, header: "x-consumer-username", value: API_CONSUMER };
  }
}
