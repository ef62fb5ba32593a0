/**
 * The certificate authority: opens a CA directory (store + encrypted keys),
 * issues X509-SVIDs with the active CA, and knows the chain and bundle.
 * Policy about *who* may get *which* ID lives in node-api.ts; rotation in
 * rotation.ts; revocation and CRLs in revocation.ts.
 */
import { chmodSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { KeyObject } from "node:crypto";
import type { AuditEventInput, AuditSink } from "../audit/event.js";
import { loadCaKey, mintCa, saveCaKey, type UpstreamPem } from "./ca-material.js";
import { buildCertificate, type Issuer } from "./certificate.js";
import { systemClock, type Clock } from "./clock.js";
import { PkiError } from "./errors.js";
import { parseKeyType, type KeyType } from "./keys.js";
import { pemEncode } from "./pem.js";
import { randomSerial, serialHex } from "./serial.js";
import { DEFAULT_SETTINGS, loadSettings, saveSettings, validateSettings, type CaSettings } from "./settings.js";
import { parseSpiffeId, validateTrustDomain, type SpiffeId } from "./spiffe-id.js";
import { CaStore, type CaRecord, type CertKind } from "./store/ca-store.js";

export const CA_DB_FILE = "ca.db";

export interface CaOptions {
  passphrase: string;
  clock?: Clock;
  audit?: AuditSink;
}

export interface IssueRequest {
  spiffeId: string | SpiffeId;
  /** SPKI DER (from a CSR) or a public key. */
  publicKey: Buffer | KeyObject;
  ttlSeconds?: number;
  dnsNames?: string[];
  node?: string;
  kind: CertKind;
}

export interface IssuedSvid {
  spiffeId: string;
  serial: string;
  /** Leaf first, then the intermediates up to (not including) the root. */
  chainDer: Buffer[];
  notBefore: Date;
  notAfter: Date;
  caId: number;
}

const noAudit: AuditSink = { append: () => undefined };

export class CertificateAuthority {
  readonly dir: string;
  readonly store: CaStore;
  readonly settings: CaSettings;
  readonly clock: Clock;
  private readonly audit: AuditSink;
  private readonly passphrase: string;
  private readonly issuers = new Map<number, Issuer>();

  private constructor(dir: string, store: CaStore, opts: CaOptions) {
    this.dir = dir;
    this.store = store;
    this.settings = loadSettings(store);
    this.clock = opts.clock ?? systemClock;
    this.audit = opts.audit ?? noAudit;
    this.passphrase = opts.passphrase;
  }

  /** Creates a CA directory: store, settings, the first active CA. Refuses a directory that already has one. */
  static init(
    dir: string,
    opts: CaOptions & { trustDomain: string; keyType?: string; upstream?: UpstreamPem; settings?: Partial<Omit<CaSettings, "trustDomain">> },
  ): CertificateAuthority {
    const trustDomain = validateTrustDomain(opts.trustDomain);
    const keyType: KeyType = parseKeyType(opts.keyType ?? DEFAULT_SETTINGS.keyType);
    checkPassphrase(opts.passphrase);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    if (existsSync(join(dir, CA_DB_FILE))) throw new PkiError("conflict", `${dir} already holds a CA`);
    const settings = validateSettings({ ...DEFAULT_SETTINGS, ...opts.settings, trustDomain, keyType });
    const now = (opts.clock ?? systemClock)();
    const material = mintCa({ trustDomain, keyType, now, ttlSeconds: settings.caTtlSeconds, backdateSeconds: settings.backdateSeconds, upstream: opts.upstream });
    const keyFile = saveCaKey(dir, material.serial, material.keys.privateKey, opts.passphrase);
    const store = CaStore.open(join(dir, CA_DB_FILE));
    store.transaction(() => {
      saveSettings(store, settings);
      store.insertCa({ state: "active", keyType: material.keys.type, keyFile, certDer: material.certDer, chainDer: material.chainDer, anchorDer: material.anchorDer, subject: material.subject, serial: material.serial, notBefore: material.notBefore, notAfter: material.notAfter, createdAt: now, activatedAt: now });
      store.bumpBundleSequence();
    });
    const ca = new CertificateAuthority(dir, store, opts);
    ca.record({ action: "ca.init", outcome: "success", subject: `spiffe://${trustDomain}`, details: { serial: material.serial, key_type: material.keys.type, not_after: material.notAfter.toISOString(), upstream: opts.upstream ? true : false } });
    return ca;
  }

  /** Opens an existing CA directory and unlocks the keys of every CA still in use. */
  static open(dir: string, opts: CaOptions): CertificateAuthority {
    if (!existsSync(join(dir, CA_DB_FILE))) throw new PkiError("not_found", `${dir} holds no CA (run \`mesh ca init\` first)`);
    const store = CaStore.open(join(dir, CA_DB_FILE));
    try {
      const ca = new CertificateAuthority(dir, store, opts);
      ca.activeCa(); // unlock now: a wrong passphrase fails at start, not at first issuance
      return ca;
    } catch (err) {
      store.close();
      throw err;
    }
  }

  close(): void {
    this.store.close();
  }

  get trustDomain(): string {
    return this.settings.trustDomain;
  }

  now(): Date {
    return this.clock();
  }

  /** Writes an audit event from the CA (component "ca"). Never pass secrets here. */
  record(e: Omit<AuditEventInput, "component">): void {
    this.audit.append({ component: "ca", ...e });
  }

  activeCa(): CaRecord {
    const [active] = this.store.casInState("active");
    if (!active) throw new PkiError("ca_unavailable", "no active CA in the store");
    this.issuerFor(active);
    return active;
  }

  /** The signer of a CA record, decrypting its key on first use. */
  issuerFor(ca: CaRecord): Issuer {
    let issuer = this.issuers.get(ca.id);
    if (!issuer) {
      const key = loadCaKey(this.dir, ca.keyFile, this.passphrase);
      issuer = { certDer: ca.certDer, privateKey: key, keyType: parseKeyType(ca.keyType) };
      this.issuers.set(ca.id, issuer);
    }
    return issuer;
  }

  /** Passphrase for keys of CAs made later (rotation). */
  saveNewCaKey(serial: string, key: KeyObject): string {
    return saveCaKey(this.dir, serial, key, this.passphrase);
  }

  /**
   * Issues an X509-SVID with the active CA. The SPIFFE ID is the caller's
   * decision (taken from a registration entry), never from a CSR.
   */
  issue(req: IssueRequest): IssuedSvid {
    const id = typeof req.spiffeId === "string" ? parseSpiffeId(req.spiffeId) : req.spiffeId;
    if (id.trustDomain !== this.trustDomain) {
      throw new PkiError("forbidden", `${id.toString()} is not in trust domain ${this.trustDomain}`);
    }
    if (id.path === "") throw new PkiError("invalid_argument", "a leaf SVID needs a SPIFFE ID with a path");
    const now = this.now();
    const ca = this.activeCa();
    const issuer = this.issuerFor(ca);
    const ttl = this.clampTtl(req.ttlSeconds ?? (req.kind === "node" ? this.settings.nodeTtlSeconds : this.settings.leafTtlSeconds));
    const notBefore = new Date(Math.max(now.getTime() - this.settings.backdateSeconds * 1000, ca.notBefore.getTime()));
    // a leaf never outlives the CA (or chain) that signed it
    const notAfter = new Date(Math.min(now.getTime() + ttl * 1000, ca.notAfter.getTime()));
    if (notAfter.getTime() <= now.getTime()) throw new PkiError("ca_unavailable", "the active CA has expired; rotate it");
    const serialBuf = randomSerial();
    const serial = serialHex(serialBuf);
    const leaf = buildCertificate(
      { serial: serialBuf, publicKey: req.publicKey, notBefore, notAfter, kind: "leaf", spiffeId: id.toString(), dnsNames: req.dnsNames },
      issuer,
    );
    this.store.insertCertificate({ serial, caId: ca.id, spiffeId: id.toString(), node: req.node, kind: req.kind, notBefore, notAfter, issuedAt: now, certDer: leaf });
    this.record({
      action: "ca.sign",
      outcome: "success",
      actor: req.node ? `node:${req.node}` : "ca-admin",
      subject: id.toString(),
      details: { serial, kind: req.kind, not_after: notAfter.toISOString(), ca_serial: ca.serial },
    });
    return { spiffeId: id.toString(), serial, chainDer: [leaf, ...this.servedChainAbove(ca)], notBefore, notAfter, caId: ca.id };
  }

  /** Intermediates served after a leaf signed by this CA: the CA itself unless it is the root. */
  servedChainAbove(ca: CaRecord): Buffer[] {
    return ca.certDer.equals(ca.anchorDer) ? [] : [ca.certDer, ...ca.chainDer];
  }

  clampTtl(requested: number): number {
    if (!Number.isFinite(requested) || requested <= 0) throw new PkiError("invalid_argument", `ttl must be a positive number of seconds, got ${requested}`);
    return Math.min(Math.floor(requested), this.settings.maxLeafTtlSeconds);
  }

  /** CAs whose root belongs in the trust bundle now (see DESIGN.md §3 on retirement). */
  casInBundle(now = this.now()): CaRecord[] {
    return this.store.listCas().filter((ca) => {
      if (ca.state !== "retired") return true;
      if (ca.forceRetired) return false;
      const last = this.store.lastLeafExpiry(ca.id);
      return last !== undefined && last > now;
    });
  }

  /** The trust anchors, deduplicated, oldest first. */
  bundleAnchors(now = this.now()): Buffer[] {
    const seen = new Set<string>();
    const out: Buffer[] = [];
    for (const ca of this.casInBundle(now)) {
      const k = ca.anchorDer.toString("base64");
      if (seen.has(k)) continue;
      seen.add(k);
      out.push(ca.anchorDer);
    }
    return out;
  }

  bundlePem(now = this.now()): string {
    return this.bundleAnchors(now).map((d) => pemEncode("CERTIFICATE", d)).join("");
  }
}

export function checkPassphrase(p: string): void {
  if (typeof p !== "string" || p.length < 8) {
    throw new PkiError("invalid_argument", "the CA passphrase must be at least 8 characters (MESH_CA_PASSPHRASE or --passphrase-file)");
  }
}

export function chainPem(chainDer: readonly Buffer[]): string {
  return chainDer.map((d) => pemEncode("CERTIFICATE", d)).join("");
}
