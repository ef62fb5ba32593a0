/**
 * Revocation and CRLs: one signed CRL per CA still in the bundle, re-signed on
 * every revocation and when half of its validity has passed.
 */
import type { CertificateAuthority } from "./ca.js";
import { buildCrl, REVOCATION_REASONS, type RevocationReason } from "./crl.js";
import { PkiError } from "./errors.js";
import { pemEncode } from "./pem.js";
import { normalizeSerial } from "./serial.js";
import { parseSpiffeId } from "./spiffe-id.js";
import type { CaRecord } from "./store/ca-store.js";

export function parseRevocationReason(r: string | undefined): RevocationReason {
  const reason = (r ?? "unspecified") as RevocationReason;
  if (!REVOCATION_REASONS.includes(reason)) {
    throw new PkiError("invalid_argument", `unknown revocation reason '${r}'; use one of ${REVOCATION_REASONS.join(", ")}`);
  }
  return reason;
}

export interface RevokeResult {
  revoked: { serial: string; spiffeId: string }[];
  alreadyRevoked: string[];
}

/** Revokes one certificate by serial, or every unexpired one of a SPIFFE ID. */
export function revoke(ca: CertificateAuthority, target: { serial?: string; spiffeId?: string }, reasonText?: string, actor = "ca-admin"): RevokeResult {
  const reason = parseRevocationReason(reasonText);
  const now = ca.now();
  let serials: string[];
  if (target.serial !== undefined) {
    let s: string;
    try {
      s = normalizeSerial(target.serial);
    } catch {
      throw new PkiError("invalid_argument", `'${target.serial}' is not a hexadecimal serial number`);
    }
    if (!ca.store.getCertificate(s)) throw new PkiError("not_found", `no certificate with serial ${s} was issued by this CA`);
    serials = [s];
  } else if (target.spiffeId !== undefined) {
    const id = parseSpiffeId(target.spiffeId).toString();
    serials = ca.store.listCertificates({ spiffeId: id, unexpiredAt: now }).map((c) => c.serial);
    if (serials.length === 0) throw new PkiError("not_found", `no unexpired certificate for ${id}`);
  } else {
    throw new PkiError("invalid_argument", "revoke needs a serial or a SPIFFE ID");
  }
  const result: RevokeResult = { revoked: [], alreadyRevoked: [] };
  const touched = new Set<number>();
  ca.store.transaction(() => {
    for (const s of serials) {
      const cert = ca.store.getCertificate(s)!;
      if (ca.store.revokeCertificate(s, now, reason)) {
        result.revoked.push({ serial: s, spiffeId: cert.spiffeId });
        touched.add(cert.caId);
      } else {
        result.alreadyRevoked.push(s);
      }
    }
  });
  for (const caId of touched) {
    const rec = ca.store.getCa(caId);
    if (rec) signCrl(ca, rec, now);
  }
  for (const r of result.revoked) {
    ca.record({ action: "ca.revoke", outcome: "success", actor, subject: r.spiffeId, reason, details: { serial: r.serial } });
  }
  return result;
}

/** Signs a fresh CRL for one CA and stores it. */
export function signCrl(ca: CertificateAuthority, rec: CaRecord, now = ca.now()): Buffer {
  const issuer = ca.issuerFor(rec);
  const revoked = ca.store.revokedOf(rec.id, now).map((r) => ({ serial: r.serial, revokedAt: r.revokedAt, reason: r.reason as RevocationReason }));
  const number = rec.crlNumber + 1n;
  const nextUpdate = new Date(now.getTime() + ca.settings.crlTtlSeconds * 1000);
  const der = buildCrl({ issuer, thisUpdate: now, nextUpdate, crlNumber: number, revoked });
  ca.store.setCrl(rec.id, { number, der, thisUpdate: now, nextUpdate });
  return der;
}

/** The current CRL of every CA in the bundle, re-signing any that is missing or past half its life. */
export function currentCrls(ca: CertificateAuthority, now = ca.now()): Buffer[] {
  const out: Buffer[] = [];
  for (const rec of ca.casInBundle(now)) {
    const fresh =
      rec.crlDer !== undefined &&
      rec.crlThisUpdate !== undefined &&
      rec.crlNextUpdate !== undefined &&
      now.getTime() < rec.crlThisUpdate.getTime() + (rec.crlNextUpdate.getTime() - rec.crlThisUpdate.getTime()) / 2;
    out.push(fresh ? rec.crlDer! : signCrl(ca, rec, now));
  }
  return out;
}

export function currentCrlsPem(ca: CertificateAuthority, now = ca.now()): string {
  return currentCrls(ca, now).map((d) => pemEncode("X509 CRL", d)).join("");
}
