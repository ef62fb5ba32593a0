/**
 * The trust bundle in its two forms: PEM, and the SPIFFE bundle (a JWKS whose
 * keys carry `use: "x509-svid"` and the root in `x5c`, plus
 * `spiffe_sequence` and `spiffe_refresh_hint`).
 */
import { X509Certificate, createHash } from "node:crypto";
import type { CertificateAuthority } from "./ca.js";
import { pemEncode } from "./pem.js";

export interface SpiffeJwk {
  kty: string;
  use: "x509-svid";
  x5c: string[];
  crv?: string;
  x?: string;
  y?: string;
  n?: string;
  e?: string;
  kid?: string;
}

export interface SpiffeBundle {
  keys: SpiffeJwk[];
  spiffe_sequence: number;
  spiffe_refresh_hint: number;
}

export interface TrustBundle {
  trustDomain: string;
  sequence: number;
  pem: string;
  anchorsDer: Buffer[];
  spiffe: SpiffeBundle;
}

function jwkOf(der: Buffer): SpiffeJwk {
  const cert = new X509Certificate(der);
  const jwk = cert.publicKey.export({ format: "jwk" }) as Record<string, string>;
  const out: SpiffeJwk = { kty: jwk.kty!, use: "x509-svid", x5c: [der.toString("base64")] };
  for (const k of ["crv", "x", "y", "n", "e"] as const) if (jwk[k] !== undefined) out[k] = jwk[k];
  out.kid = createHash("sha256").update(der).digest("base64url").slice(0, 16);
  return out;
}

/**
 * The current bundle. Its sequence number moves whenever the set of anchors
 * changes, including when a retired CA silently drops out.
 */
export function trustBundle(ca: CertificateAuthority, now = ca.now()): TrustBundle {
  // Every reply of the CA API carries the bundle: reuse it while the CA rows are
  // unchanged (same cached array) and for at most a second of clock time.
  const cas = ca.store.listCas();
  const hit = cache.get(ca);
  if (hit && hit.cas === cas && Math.abs(now.getTime() - hit.at) < 1000) return hit.bundle;
  const bundle = buildTrustBundle(ca, now);
  cache.set(ca, { cas, at: now.getTime(), bundle });
  return bundle;
}

const cache = new WeakMap<CertificateAuthority, { cas: readonly unknown[]; at: number; bundle: TrustBundle }>();

function buildTrustBundle(ca: CertificateAuthority, now: Date): TrustBundle {
  const anchors = ca.bundleAnchors(now);
  const fingerprint = createHash("sha256").update(Buffer.concat(anchors)).digest("hex");
  let sequence = Number(ca.store.getMeta("bundle_sequence") ?? "0");
  if (ca.store.getMeta("bundle_fingerprint") !== fingerprint) {
    sequence = ca.store.transaction(() => {
      if (ca.store.getMeta("bundle_fingerprint") === fingerprint) return Number(ca.store.getMeta("bundle_sequence") ?? "0");
      ca.store.setMeta("bundle_fingerprint", fingerprint);
      return ca.store.bumpBundleSequence();
    });
  }
  return {
    trustDomain: ca.trustDomain,
    sequence,
    anchorsDer: anchors,
    pem: anchors.map((d) => pemEncode("CERTIFICATE", d)).join(""),
    spiffe: { keys: anchors.map(jwkOf), spiffe_sequence: sequence, spiffe_refresh_hint: ca.settings.bundleRefreshHintSeconds },
  };
}
