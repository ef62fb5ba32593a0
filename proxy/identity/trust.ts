/**
 * The trust material a sidecar checks peers against: the bundle's CAs and the
 * revoked serials of every CRL, keyed by the CRL issuer's name so a serial
 * revoked by one CA never hides a certificate of another. Built once per
 * ROOTCA update; lookups on the handshake path are two Map reads.
 */
import { X509Certificate } from "node:crypto";
import { certificateSubject } from "../../pki/certificate.js";
import { parseCrl } from "../../pki/crl.js";
import { pemDecodeLabel } from "../../pki/pem.js";
import { ProxyError } from "../errors.js";

const MAX_BUNDLE_BYTES = 1024 * 1024;
const MAX_CRL_BYTES = 4 * 1024 * 1024;
const MAX_ROOTS = 64;

export interface TrustState {
  readonly roots: readonly X509Certificate[];
  /** The bundle as PEM, for Node's `ca` option. */
  readonly rootsPem: readonly string[];
  /** Revoked serials (normalizeSerial form) by issuer subject DER (hex). */
  readonly revoked: ReadonlyMap<string, ReadonlySet<string>>;
  /** How many CRLs were loaded, and how many of them had their signature checked. */
  readonly crls: number;
  readonly crlsVerified: number;
  isRevoked(serial: string, issuer: X509Certificate): boolean;
}

const subjectKeys = new WeakMap<X509Certificate, string>();

function subjectKey(cert: X509Certificate): string {
  let k = subjectKeys.get(cert);
  if (k === undefined) {
    k = certificateSubject(cert.raw).toString("hex");
    subjectKeys.set(cert, k);
  }
  return k;
}

/**
 * Parses a ROOTCA secret. `extraCas` are CA certificates known from elsewhere
 * (the intermediates of our own chain) so CRLs signed by an intermediate can
 * be verified too; a CRL whose issuer is not known is kept unverified, since
 * it came over the agent's authenticated socket.
 */
export function buildTrust(trustedCaPem: string, crlPem: string | undefined, extraCas: readonly X509Certificate[] = []): TrustState {
  if (trustedCaPem.length > MAX_BUNDLE_BYTES) throw new ProxyError("peer_invalid", "trust bundle larger than 1 MiB");
  let ders: Buffer[];
  try {
    ders = pemDecodeLabel(trustedCaPem, "CERTIFICATE", MAX_BUNDLE_BYTES);
  } catch (err) {
    throw new ProxyError("peer_invalid", `trust bundle is not PEM: ${(err as Error).message}`, { cause: err });
  }
  if (ders.length === 0) throw new ProxyError("peer_invalid", "trust bundle holds no certificate");
  if (ders.length > MAX_ROOTS) throw new ProxyError("peer_invalid", `trust bundle holds more than ${MAX_ROOTS} certificates`);
  const roots = ders.map((d) => new X509Certificate(d));
  const rootsPem = roots.map((r) => r.toString());
  const issuers = new Map<string, X509Certificate>();
  for (const c of [...roots, ...extraCas]) issuers.set(subjectKey(c), c);

  const revoked = new Map<string, Set<string>>();
  let crls = 0;
  let crlsVerified = 0;
  if (crlPem && crlPem.trim() !== "") {
    if (crlPem.length > MAX_CRL_BYTES) throw new ProxyError("peer_invalid", "CRL text larger than 4 MiB");
    for (const der of pemDecodeLabel(crlPem, "X509 CRL", MAX_CRL_BYTES)) {
      const unverified = parseCrl(der);
      const key = unverified.issuerDer.toString("hex");
      const issuer = issuers.get(key);
      const parsed = issuer ? parseCrl(der, issuer) : unverified;
      crls++;
      if (issuer) crlsVerified++;
      const set = revoked.get(key) ?? new Set<string>();
      for (const serial of parsed.revoked.keys()) set.add(serial);
      revoked.set(key, set);
    }
  }
  return {
    roots,
    rootsPem,
    revoked,
    crls,
    crlsVerified,
    isRevoked(serial: string, issuer: X509Certificate): boolean {
      if (revoked.size === 0) return false;
      return revoked.get(subjectKey(issuer))?.has(serial) ?? false;
    },
  };
}
