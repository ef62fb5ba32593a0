/**
 * The sidecar's identity, kept current from the agent over SDS. Every update
 * is checked before it is ACKed (the chain must be a valid X509-SVID under
 * the new bundle, the key must match the leaf, nothing expired); a bad one is
 * NACKed and the last good identity stays in use. Each good update builds the
 * TLS contexts once, so handshakes never parse PEM.
 */
import { EventEmitter } from "node:events";
import { X509Certificate, createPrivateKey, createPublicKey } from "node:crypto";
import { createSecureContext, type SecureContext } from "node:tls";
import { pemDecodeLabel } from "../../pki/pem.js";
import { validateX509Svid } from "../../pki/svid-validate.js";
import { SdsClient } from "../../sds-server/client.js";
import type { WorkloadSecrets } from "../../sds-server/protocol.js";
import { ProxyError } from "../errors.js";
import { buildTrust, type TrustState } from "./trust.js";

export interface IdentitySnapshot {
  readonly version: string;
  readonly spiffeId: string;
  readonly trustDomain: string;
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly chainPem: string;
  /** Held in memory only; never logged or dumped. */
  readonly keyPem: string;
  readonly leaf: X509Certificate;
  readonly trust: TrustState;
  /** For upstream (client) handshakes; servers take the PEM options below through setSecureContext. */
  readonly clientContext: SecureContext;
}

export interface IdentityEvents {
  change: [next: IdentitySnapshot, changed: { identity: boolean; trust: boolean }];
  error: [err: Error];
}

export interface SdsIdentityOptions {
  socketPath: string;
  appToken?: string;
  nodeId?: string;
  /** Refuse identities outside this trust domain (optional). */
  trustDomain?: string;
  clock?: () => Date;
}

function splitChain(chainPem: string): X509Certificate[] {
  const ders = pemDecodeLabel(chainPem, "CERTIFICATE", 256 * 1024);
  if (ders.length === 0) throw new ProxyError("no_identity", "certificate chain holds no certificate");
  return ders.map((d) => new X509Certificate(d));
}

/** Builds and checks a snapshot from SDS secrets; throws with the reason to NACK. */
export function snapshotFrom(secrets: WorkloadSecrets, version: string, now: Date, trustDomain?: string): IdentitySnapshot {
  const d = secrets.default;
  const r = secrets.ROOTCA;
  if (!d) throw new ProxyError("no_identity", "no `default` secret (certificate and key)");
  if (!r) throw new ProxyError("no_identity", "no `ROOTCA` secret (trust bundle)");
  const chain = splitChain(d.certificateChainPem);
  const trust = buildTrust(r.trustedCaPem, r.crlPem, chain.slice(1));
  const v = validateX509Svid(chain, { now, roots: trust.roots, trustDomain, isRevoked: (s, issuer) => trust.isRevoked(s, issuer) });
  const key = createPrivateKey(d.privateKeyPem);
  const fromKey = createPublicKey(key).export({ type: "spki", format: "der" });
  const fromCert = v.leaf.publicKey.export({ type: "spki", format: "der" });
  if (!fromKey.equals(fromCert)) throw new ProxyError("no_identity", "private key does not match the certificate");
  const clientContext = createSecureContext({
    cert: d.certificateChainPem,
    key: d.privateKeyPem,
    ca: [...trust.rootsPem],
    minVersion: "TLSv1.3",
  });
  return {
    version,
    spiffeId: v.spiffeId.toString(),
    trustDomain: v.spiffeId.trustDomain,
    serial: v.serial,
    notBefore: new Date(v.leaf.validFrom),
    notAfter: v.notAfter,
    chainPem: d.certificateChainPem,
    keyPem: d.privateKeyPem,
    leaf: v.leaf,
    trust,
    clientContext,
  };
}

export class SdsIdentity extends EventEmitter<IdentityEvents> {
  private readonly client: SdsClient;
  private readonly clock: () => Date;
  private snapshot: IdentitySnapshot | undefined;
  /** Built by the validate hook, promoted when the client ACKs (its "update" event). */
  private pending: IdentitySnapshot | undefined;
  private versionCounter = 0;

  constructor(private readonly opts: SdsIdentityOptions) {
    super();
    this.clock = opts.clock ?? (() => new Date());
    this.client = new SdsClient({
      socketPath: opts.socketPath,
      appToken: opts.appToken,
      nodeId: opts.nodeId,
      clock: this.clock,
      validate: (s) => {
        this.pending = snapshotFrom(s, String(++this.versionCounter), this.clock(), opts.trustDomain);
      },
    });
    this.client.on("update", (_s, version) => this.promote(version));
    this.client.on("error", (err) => this.emit("error", err));
  }

  start(): void {
    this.client.start();
  }

  stop(): Promise<void> {
    return this.client.stop();
  }

  /** The identity in use, or undefined when none arrived yet or the one held has expired. */
  current(): IdentitySnapshot | undefined {
    const s = this.snapshot;
    if (!s || this.clock().getTime() > s.notAfter.getTime()) return undefined;
    return s;
  }

  /** The last good identity even if expired (for /certs and metrics). */
  last(): IdentitySnapshot | undefined {
    return this.snapshot;
  }

  sdsStatus() {
    return this.client.status();
  }

  /** Resolves with the first identity, or rejects after timeoutMs. */
  ready(timeoutMs: number): Promise<IdentitySnapshot> {
    const now = this.current();
    if (now) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off("change", onChange);
        const st = this.client.status();
        reject(new ProxyError("no_identity", `no identity from SDS at ${this.opts.socketPath} within ${timeoutMs} ms${st.lastError ? `: ${st.lastError}` : ""}`));
      }, timeoutMs);
      const onChange = (s: IdentitySnapshot) => {
        clearTimeout(timer);
        resolve(s);
      };
      this.once("change", onChange);
    });
  }

  private promote(version: string): void {
    const next = this.pending;
    this.pending = undefined;
    if (!next) return;
    const prev = this.snapshot;
    const snap = { ...next, version };
    this.snapshot = snap;
    const identity = !prev || prev.serial !== snap.serial;
    const trust = !prev || prev.trust !== snap.trust;
    this.emit("change", snap, { identity, trust: trust && (!prev || !sameTrust(prev.trust, snap.trust)) });
  }
}

function sameTrust(a: TrustState, b: TrustState): boolean {
  if (a.rootsPem.length !== b.rootsPem.length || a.rootsPem.some((p, i) => p !== b.rootsPem[i])) return false;
  if (a.revoked.size !== b.revoked.size) return false;
  for (const [k, set] of a.revoked) {
    const other = b.revoked.get(k);
    if (!other || other.size !== set.size) return false;
    for (const s of set) if (!other.has(s)) return false;
  }
  return true;
}
