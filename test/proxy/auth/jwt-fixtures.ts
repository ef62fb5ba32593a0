/**
 * Helpers for JWT provider tests, written as an independent client would:
 * keys from node:crypto, tokens from jose's SignJWT or hand-assembled with
 * node:crypto (for the malformed and key-confusion cases), a JWKS server on
 * 127.0.0.1 that counts its fetches.
 */
import { createHmac, generateKeyPairSync, sign as cryptoSign, type KeyObject } from "node:crypto";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { SignJWT, type JWTPayload } from "jose";
import { JwtProvider, jwtProvider } from "../../../proxy/auth/jwt.js";
import type { AuthOutcome, AuthProvider } from "../../../proxy/auth/types.js";
import type { FilterRequest } from "../../../proxy/filters/types.js";
import { FakeClock } from "../filters/fixtures.js";

export { FakeClock, request } from "../filters/fixtures.js";

export const ISSUER = "https://issuer.example.com";
export const AUDIENCE = "api.example.com";

export interface TestKey {
  readonly kid: string;
  readonly alg: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** Public JWK with kid (what the issuer publishes). */
  readonly jwk: Record<string, unknown>;
}

export function makeKey(kind: "ec256" | "ec384" | "rsa" | "ed25519", kid: string, alg?: string): TestKey {
  const pair =
    kind === "ec256"
      ? generateKeyPairSync("ec", { namedCurve: "P-256" })
      : kind === "ec384"
        ? generateKeyPairSync("ec", { namedCurve: "P-384" })
        : kind === "rsa"
          ? generateKeyPairSync("rsa", { modulusLength: 2048 })
          : generateKeyPairSync("ed25519");
  const defaultAlg = kind === "ec256" ? "ES256" : kind === "ec384" ? "ES384" : kind === "rsa" ? "RS256" : "EdDSA";
  return { kid, alg: alg ?? defaultAlg, ...pair, jwk: { ...pair.publicKey.export({ format: "jwk" }), kid } };
}

/** Keys shared by the test files (RSA generation is slow-ish). */
let shared: { ec: TestKey; ec2: TestKey; rsa: TestKey; ed: TestKey; ec384: TestKey } | undefined;
export function keys(): { ec: TestKey; ec2: TestKey; rsa: TestKey; ed: TestKey; ec384: TestKey } {
  shared ??= {
    ec: makeKey("ec256", "ec-1"),
    ec2: makeKey("ec256", "ec-2"),
    rsa: makeKey("rsa", "rsa-1"),
    ed: makeKey("ed25519", "ed-1"),
    ec384: makeKey("ec384", "ec384-1"),
  };
  return shared;
}

export function jwks(...ks: TestKey[]): { keys: Record<string, unknown>[] } {
  return { keys: ks.map((k) => k.jwk) };
}

export function seconds(clock: FakeClock): number {
  return Math.floor(clock.ms / 1000);
}

/** Standard claims valid at the clock's time for 10 minutes. */
export function claims(clock: FakeClock, extra: JWTPayload = {}): JWTPayload {
  const now = seconds(clock);
  return { iss: ISSUER, sub: "alice", aud: AUDIENCE, iat: now, exp: now + 600, ...extra };
}

/** A token signed with jose (the way real issuers' libraries do it). */
export async function sign(key: TestKey, payload: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT", ...header }).sign(key.privateKey);
}

export function b64url(v: unknown): string {
  return Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");
}

/** A token assembled by hand: header and payload JSON, an HMAC-SHA256 signature with `secret` (or a junk one). */
export function handToken(header: Record<string, unknown>, payload: Record<string, unknown>, secret?: Buffer | string): string {
  const input = `${b64url(header)}.${b64url(payload)}`;
  const sig = secret === undefined ? "c2lnbmF0dXJl" : createHmac("sha256", secret).update(input).digest("base64url");
  return `${input}.${sig}`;
}

export function pem(key: TestKey): string {
  return key.publicKey.export({ format: "pem", type: "spki" }).toString();
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

export interface Built {
  readonly provider: JwtProvider;
  readonly clock: FakeClock;
}

/** Validates raw config with the factory's schema and builds the provider (a real JwtProvider). */
export function build(raw: Record<string, unknown>, opts: { clock?: FakeClock; baseDir?: string } = {}): Built {
  const clock = opts.clock ?? new FakeClock();
  const r = jwtProvider.schema.safeParse(raw);
  if (!r.success) throw new Error(r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "));
  const provider = new JwtProvider("jwt-test", r.data, { clock: clock.now, baseDir: opts.baseDir ?? "/tmp" });
  return { provider, clock };
}

export function issues(raw: unknown): string[] {
  const r = jwtProvider.schema.safeParse(raw);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
}

export async function check(p: AuthProvider, req: FilterRequest, clock: FakeClock): Promise<AuthOutcome> {
  return p.authenticate(req, clock.now());
}

/** Short description of an outcome for assertions: "ok <principal>", "missing", "fail <status> <code>". */
export function summary(o: AuthOutcome): string {
  return o.kind === "ok" ? `ok ${o.principal}` : o.kind === "missing" ? "missing" : `fail ${o.status} ${o.code}`;
}

/** A JWKS server on 127.0.0.1 that counts fetches; body, status and stalling can be changed between requests. */
export class JwksServer {
  fetches = 0;
  body: unknown = { keys: [] };
  status = 200;
  /** When set, requests are left hanging (fetch-timeout tests). */
  stall = false;
  /** Raw body text overriding `body` (too large, not JSON). */
  raw: string | undefined;
  private readonly server: Server;
  private readonly hanging: ServerResponse[] = [];
  url = "";

  constructor() {
    this.server = createServer((req, res) => {
      this.fetches++;
      if (this.stall) {
        this.hanging.push(res);
        return;
      }
      const text = this.raw ?? JSON.stringify(this.body);
      res.writeHead(this.status, { "content-type": "application/json" });
      res.end(text);
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/.well-known/jwks.json`;
    return this;
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Polls `cond` (a real-time wait for file-system events, bounded). */
export async function eventually(cond: () => boolean | Promise<boolean>, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return cond();
}

/** An ES256 token signed by hand with node:crypto, header exactly as given (crit, b64, jku... cases). */
export function handSignEs256(key: TestKey, header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const input = `${b64url(header)}.${b64url(payload)}`;
  const sig = cryptoSign("sha256", Buffer.from(input), { key: key.privateKey, dsaEncoding: "ieee-p1363" });
  return `${input}.${sig.toString("base64url")}`;
}
