/**
 * A JWKS turned into verification keys, each bound to the algorithms its
 * type allows: EC P-256 → ES256, RSA → RS and PS, Ed25519 → EdDSA, oct → HS
 * (and only from a local key set). A public key is therefore never an HMAC
 * secret, whatever a token's header says. `kid` is only ever a map key.
 */
import { createHash, createPublicKey } from "node:crypto";
import type { JWK } from "jose";
import type { JwsAlg } from "./jwt-schema.js";

const MAX_KEYS = 100;
const MAX_KID = 256;

export interface VerifyKey {
  readonly kid?: string;
  /** Algorithms this key may verify: its type's, narrowed to its own `alg` when it has one. */
  readonly algs: ReadonlySet<JwsAlg>;
  /** Public members only (the secret `k` for a local oct key), frozen; what jose verifies with. */
  readonly jwk: Readonly<JWK>;
}

export interface KeySet {
  readonly byKid: ReadonlyMap<string, readonly VerifyKey[]>;
  readonly all: readonly VerifyKey[];
  /** Changes exactly when the usable keys change (verified-token cache is cleared then). */
  readonly fingerprint: string;
  /** Keys left out (unsupported type, encryption keys, remote secrets), for status output. */
  readonly skipped: number;
}

const EC_ALG: Readonly<Record<string, JwsAlg>> = { "P-256": "ES256", "P-384": "ES384", "P-521": "ES512" };
const RSA_ALGS: readonly JwsAlg[] = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"];
/** RFC 7518 3.2: an HMAC key is at least as long as the hash output. */
const HMAC_MIN_BYTES: ReadonlyArray<[JwsAlg, number]> = [
  ["HS256", 32],
  ["HS384", 48],
  ["HS512", 64],
];
const B64URL = /^[A-Za-z0-9_-]+$/;
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth"];

type KeyResult = { key: VerifyKey } | { skip: string } | { error: string };

function str(o: Record<string, unknown>, name: string): string | undefined {
  const v = o[name];
  return typeof v === "string" ? v : undefined;
}

function b64(o: Record<string, unknown>, name: string): string | undefined {
  const v = str(o, name);
  return v !== undefined && B64URL.test(v) && v.length % 4 !== 1 ? v : undefined;
}

/** Type-allowed algorithms and the members jose needs, or why the key is unusable. */
function material(o: Record<string, unknown>, local: boolean): { algs: JwsAlg[]; jwk: JWK } | { skip: string } | { error: string } {
  const kty = str(o, "kty");
  if (kty === "oct") {
    if (!local) return { skip: "a shared secret in a remote key set is ignored" };
    const k = b64(o, "k");
    if (!k) return { error: "an oct key needs k (base64url)" };
    const len = Buffer.from(k, "base64url").length;
    const algs = HMAC_MIN_BYTES.filter(([, min]) => len >= min).map(([a]) => a);
    if (algs.length === 0) return { error: "an oct key must be at least 32 bytes" };
    return { algs, jwk: { kty, k } };
  }
  if (PRIVATE_MEMBERS.some((m) => o[m] !== undefined)) return { error: "the key set holds private key material" };
  let jwk: JWK;
  let algs: JwsAlg[];
  if (kty === "EC") {
    const crv = str(o, "crv") ?? "";
    const alg = EC_ALG[crv];
    if (!alg) return { skip: `EC curve ${JSON.stringify(crv.slice(0, 16))} is not supported` };
    const x = b64(o, "x");
    const y = b64(o, "y");
    if (!x || !y) return { error: "an EC key needs x and y (base64url)" };
    jwk = { kty, crv, x, y };
    algs = [alg];
  } else if (kty === "RSA") {
    const n = b64(o, "n");
    const e = b64(o, "e");
    if (!n || !e) return { error: "an RSA key needs n and e (base64url)" };
    jwk = { kty, n, e };
    algs = [...RSA_ALGS];
  } else if (kty === "OKP") {
    const crv = str(o, "crv");
    if (crv !== "Ed25519") return { skip: "only Ed25519 OKP keys are supported" };
    const x = b64(o, "x");
    if (!x) return { error: "an OKP key needs x (base64url)" };
    jwk = { kty, crv, x };
    algs = ["EdDSA", "Ed25519"];
  } else {
    return { skip: `key type ${JSON.stringify(String(kty ?? "").slice(0, 16))} is not supported` };
  }
  try {
    const ko = createPublicKey({ key: { ...jwk }, format: "jwk" });
    const bits = ko.asymmetricKeyDetails?.modulusLength;
    if (kty === "RSA" && (bits === undefined || bits < 2048)) return { error: "an RSA key must be at least 2048 bits" };
  } catch {
    return { error: `the ${kty} key is not a valid public key` };
  }
  return { algs, jwk };
}

function parseKey(raw: unknown, local: boolean): KeyResult {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return { error: "a key must be an object" };
  const o = raw as Record<string, unknown>;
  const kid = o.kid;
  if (kid !== undefined && (typeof kid !== "string" || kid.length === 0 || kid.length > MAX_KID)) {
    return { error: `kid must be a string of 1 to ${MAX_KID} characters` };
  }
  const use = o.use;
  if (use !== undefined && use !== "sig") return { skip: "not a signing key (use)" };
  const ops = o.key_ops;
  if (ops !== undefined && (!Array.isArray(ops) || !ops.includes("verify"))) return { skip: "not a verification key (key_ops)" };
  const m = material(o, local);
  if (!("algs" in m)) return m;
  let algs = m.algs;
  const own = o.alg;
  if (own !== undefined) {
    if (typeof own !== "string") return { error: "alg must be a string" };
    if (!(algs as string[]).includes(own)) {
      return { error: `alg ${JSON.stringify(own.slice(0, 16))} does not fit a ${String(o.kty)} key` };
    }
    algs = [own as JwsAlg];
  }
  const key: VerifyKey = {
    ...(typeof kid === "string" ? { kid } : {}),
    algs: new Set(algs),
    jwk: Object.freeze({ ...m.jwk, ...(own !== undefined ? { alg: own as string } : {}) }),
  };
  return { key };
}

/**
 * Parses a JWKS document. A local set (file, inline) refuses a malformed key
 * so the operator sees the mistake; a remote set skips it. Either way a set
 * with no usable key is an error (the last good set is kept for a remote one).
 */
export function parseJwks(doc: unknown, opts: { local: boolean }): KeySet | string {
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return "a JWKS must be an object with a keys array";
  const keys = (doc as Record<string, unknown>).keys;
  if (!Array.isArray(keys)) return "a JWKS must be an object with a keys array";
  if (keys.length > MAX_KEYS) return `a JWKS may hold at most ${MAX_KEYS} keys, got ${keys.length}`;
  const all: VerifyKey[] = [];
  let skipped = 0;
  for (let i = 0; i < keys.length; i++) {
    const r = parseKey(keys[i], opts.local);
    if ("key" in r) all.push(r.key);
    else if ("skip" in r || !opts.local) skipped++;
    else return `keys[${i}]: ${r.error}`;
  }
  if (all.length === 0) return "the JWKS has no usable signing key";
  const byKid = new Map<string, VerifyKey[]>();
  for (const k of all) {
    if (k.kid === undefined) continue;
    const list = byKid.get(k.kid);
    if (list) list.push(k);
    else byKid.set(k.kid, [k]);
  }
  const canon = JSON.stringify(all.map((k) => [k.kid ?? null, [...k.algs].sort(), Object.entries(k.jwk).sort()]));
  return { byKid, all, fingerprint: createHash("sha256").update(canon).digest("base64url"), skipped };
}

export type KeySelection =
  | { readonly keys: readonly VerifyKey[] }
  | { readonly code: "jwt_unknown_kid" | "jwt_key_alg_mismatch"; readonly reason: string };

/**
 * The keys that may verify a token with this kid and alg. Without a kid the
 * token must leave no doubt: exactly one key in the set may take its alg.
 */
export function selectKeys(set: KeySet, kid: string | undefined, alg: JwsAlg): KeySelection {
  if (kid === undefined) {
    const fits = set.all.filter((k) => k.algs.has(alg));
    if (fits.length === 1) return { keys: fits };
    return {
      code: "jwt_unknown_kid",
      reason: fits.length === 0 ? `the token has no kid and no key accepts ${alg}` : `the token has no kid and ${fits.length} keys accept ${alg}`,
    };
  }
  const byKid = set.byKid.get(kid);
  if (!byKid) return { code: "jwt_unknown_kid", reason: "no key in the key set has the token's kid" };
  const fits = byKid.filter((k) => k.algs.has(alg));
  if (fits.length === 0) return { code: "jwt_key_alg_mismatch", reason: `the key named by the token's kid does not verify ${alg}` };
  return { keys: fits };
}

/** Where a provider's keys come from: inline config, a local file, or a JWKS URL. */
export interface KeySource {
  /** The key set in use (undefined until the first load); may start a background refresh. */
  current(nowMs: number): KeySet | undefined;
  /**
   * A refetch on the request path (unknown kid, no key set yet): joins one in
   * flight, else starts one if the rate limit allows, else undefined.
   */
  refetch(nowMs: number): Promise<KeySet | undefined> | undefined;
  /** Reloads now (file re-read, URL re-fetched); the last good set stays on failure. */
  refresh(): Promise<void>;
  /** Why the last load failed, if it did (no secrets). */
  readonly lastError?: string;
  close(): void;
}

export class StaticKeySource implements KeySource {
  constructor(private readonly set: KeySet) {}
  current(): KeySet {
    return this.set;
  }
  refetch(): undefined {
    return undefined;
  }
  async refresh(): Promise<void> {}
  close(): void {}
}
