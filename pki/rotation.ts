/**
 * CA rotation without a restart anywhere: prepare → activate → retire.
 * - prepare: a new CA joins the trust bundle but signs nothing yet, so every
 *   peer learns to trust it before the first leaf it signs shows up;
 * - activate: the prepared CA signs from now on; the old one stays in the
 *   bundle (state "previous") because its leaves are still out there;
 * - retire: the oldest previous CA is retired; it leaves the bundle by itself
 *   once the last leaf it signed has expired, or at once with force.
 */
import type { CertificateAuthority } from "./ca.js";
import { mintCa, type UpstreamPem } from "./ca-material.js";
import { PkiError } from "./errors.js";
import { parseKeyType } from "./keys.js";
import { signCrl } from "./revocation.js";
import type { CaRecord } from "./store/ca-store.js";

export interface RotationResult {
  step: "prepare" | "activate" | "retire";
  ca: { id: number; serial: string; state: string; notAfter: string };
  /** For retire: when the CA leaves the bundle (now when forced or when it signed nothing unexpired). */
  leavesBundleAt?: string;
}

const summary = (c: CaRecord) => ({ id: c.id, serial: c.serial, state: c.state, notAfter: c.notAfter.toISOString() });

export function prepareCa(ca: CertificateAuthority, opts: { keyType?: string; upstream?: UpstreamPem } = {}): RotationResult {
  if (ca.store.casInState("prepared").length > 0) {
    throw new PkiError("conflict", "a prepared CA already exists; activate it first");
  }
  const now = ca.now();
  const active = ca.activeCa();
  const keyType = parseKeyType(opts.keyType ?? ca.settings.keyType);
  // a CA made under a corporate root must be rotated under it too
  if (!opts.upstream && !active.anchorDer.equals(active.certDer)) {
    throw new PkiError("invalid_argument", "this CA is an intermediate under an upstream root: give the root (and its key or a new intermediate) to prepare the next one");
  }
  const m = mintCa({ trustDomain: ca.trustDomain, keyType, now, ttlSeconds: ca.settings.caTtlSeconds, backdateSeconds: ca.settings.backdateSeconds, upstream: opts.upstream });
  const keyFile = ca.saveNewCaKey(m.serial, m.keys.privateKey);
  const id = ca.store.transaction(() => {
    const newId = ca.store.insertCa({ state: "prepared", keyType: m.keys.type, keyFile, certDer: m.certDer, chainDer: m.chainDer, anchorDer: m.anchorDer, subject: m.subject, serial: m.serial, notBefore: m.notBefore, notAfter: m.notAfter, createdAt: now });
    ca.store.bumpBundleSequence();
    return newId;
  });
  const rec = ca.store.getCa(id)!;
  signCrl(ca, rec, now);
  ca.record({ action: "ca.rotate.prepare", outcome: "success", subject: `spiffe://${ca.trustDomain}`, details: { serial: rec.serial, not_after: rec.notAfter.toISOString() } });
  return { step: "prepare", ca: summary(rec) };
}

export function activateCa(ca: CertificateAuthority): RotationResult {
  const [prepared] = ca.store.casInState("prepared");
  if (!prepared) throw new PkiError("conflict", "no prepared CA to activate; run `mesh ca rotate prepare` first");
  ca.issuerFor(prepared); // its key must unlock before it becomes the signer
  const now = ca.now();
  ca.store.transaction(() => {
    for (const a of ca.store.casInState("active")) ca.store.setCaState(a.id, "previous", now);
    ca.store.setCaState(prepared.id, "active", now);
    ca.store.bumpBundleSequence();
  });
  const rec = ca.store.getCa(prepared.id)!;
  ca.record({ action: "ca.rotate.activate", outcome: "success", subject: `spiffe://${ca.trustDomain}`, details: { serial: rec.serial } });
  return { step: "activate", ca: summary(rec) };
}

export function retireCa(ca: CertificateAuthority, opts: { force?: boolean } = {}): RotationResult {
  const [oldest] = ca.store.casInState("previous");
  if (!oldest) throw new PkiError("conflict", "no previous CA to retire (activate a new one first)");
  const now = ca.now();
  ca.store.transaction(() => {
    ca.store.setCaState(oldest.id, "retired", now, opts.force ?? false);
    ca.store.bumpBundleSequence();
  });
  const rec = ca.store.getCa(oldest.id)!;
  const last = ca.store.lastLeafExpiry(rec.id);
  const leaves = opts.force || last === undefined || last <= now ? now : last;
  ca.record({ action: "ca.rotate.retire", outcome: "success", subject: `spiffe://${ca.trustDomain}`, details: { serial: rec.serial, force: opts.force ?? false, leaves_bundle_at: leaves.toISOString() } });
  return { step: "retire", ca: summary(rec), leavesBundleAt: leaves.toISOString() };
}
