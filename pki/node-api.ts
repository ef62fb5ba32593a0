/**
 * What nodes may ask of the CA, and the admin work around it: join tokens,
 * registration entries, attestation and signing. The SPIFFE ID of every
 * certificate comes from a registration entry (or the node's own ID), never
 * from the CSR.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { CertificateAuthority, IssuedSvid } from "./ca.js";
import { parseCsr } from "./csr.js";
import { PkiError } from "./errors.js";
import { KeyedTokenBucket } from "./rate-limit.js";
import { nodeSpiffeId, parseSpiffeId, type SpiffeId } from "./spiffe-id.js";
import type { RegistrationEntry } from "./store/ca-store.js";

const NODE_NAME_RE = /^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$/;
const WORKLOAD_NAME_RE = /^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$/;

export function validateNodeName(name: string): string {
  if (!NODE_NAME_RE.test(name)) throw new PkiError("invalid_argument", `node name '${name}' must be 1-63 chars of [a-z0-9._-], starting and ending alphanumeric`);
  return name;
}

export function validateWorkloadName(name: string): string {
  if (!WORKLOAD_NAME_RE.test(name)) throw new PkiError("invalid_argument", `workload name '${name}' must be 1-63 chars of [a-z0-9._-], starting and ending alphanumeric`);
  return name;
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** Creates a single-use join token bound to a node. The token is returned once and stored only hashed. */
export function createJoinToken(ca: CertificateAuthority, node: string, ttlSeconds = 600): { token: string; node: string; expiresAt: Date } {
  validateNodeName(node);
  if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0 || ttlSeconds > 7 * 86400) {
    throw new PkiError("invalid_argument", "token ttl must be from 1 s to 7 days");
  }
  const now = ca.now();
  const token = `mjt_${randomBytes(32).toString("base64url")}`;
  const hash = hashToken(token);
  const expiresAt = new Date(now.getTime() + ttlSeconds * 1000);
  ca.store.insertToken(hash, node, now, expiresAt);
  ca.record({ action: "ca.token.create", outcome: "success", subject: nodeSpiffeId(ca.trustDomain, node).toString(), details: { node, token_id: hash.slice(0, 12), expires_at: expiresAt.toISOString() } });
  return { token, node, expiresAt };
}

export function createEntry(ca: CertificateAuthority, e: { spiffeId: string; node: string; workload: string; ttlSeconds?: number; dnsNames?: string[] }): RegistrationEntry {
  const id = parseSpiffeId(e.spiffeId);
  if (id.trustDomain !== ca.trustDomain) throw new PkiError("invalid_argument", `${e.spiffeId} is not in trust domain ${ca.trustDomain}`);
  if (id.path === "" || id.path.startsWith("/mesh/")) throw new PkiError("invalid_argument", `${e.spiffeId} is reserved or has no path; workload IDs look like spiffe://${ca.trustDomain}/ns/<ns>/sa/<sa>`);
  if (e.ttlSeconds !== undefined) ca.clampTtl(e.ttlSeconds);
  const entry: RegistrationEntry = {
    id: randomUUID(),
    spiffeId: id.toString(),
    node: validateNodeName(e.node),
    workload: validateWorkloadName(e.workload),
    ttlSeconds: e.ttlSeconds,
    dnsNames: e.dnsNames ?? [],
    createdAt: ca.now(),
  };
  ca.store.insertEntry(entry);
  ca.record({ action: "ca.entry.create", outcome: "success", subject: entry.spiffeId, details: { entry_id: entry.id, node: entry.node, workload: entry.workload } });
  return entry;
}

export function deleteEntry(ca: CertificateAuthority, entryId: string): void {
  const e = ca.store.getEntry(entryId);
  if (!e || !ca.store.deleteEntry(entryId)) throw new PkiError("not_found", `no entry ${entryId}`);
  ca.record({ action: "ca.entry.delete", outcome: "success", subject: e.spiffeId, details: { entry_id: entryId, node: e.node, workload: e.workload } });
}

/** The node name inside a node SPIFFE ID (spiffe://td/mesh/node/<name>), or undefined. */
export function nodeNameOf(ca: CertificateAuthority, id: SpiffeId): string | undefined {
  if (id.trustDomain !== ca.trustDomain) return undefined;
  const m = /^\/mesh\/node\/([^/]+)$/.exec(id.path);
  return m ? m[1] : undefined;
}

export interface NodeApiOptions {
  /** CSR signings per second per node, and the burst. */
  signRatePerSecond?: number;
  signBurst?: number;
}

/** The policy behind /v1/attest, /v1/sign and /v1/entries. */
export class NodeApi {
  private readonly limiter: KeyedTokenBucket;

  constructor(
    readonly ca: CertificateAuthority,
    opts: NodeApiOptions = {},
  ) {
    this.limiter = new KeyedTokenBucket({ ratePerSecond: opts.signRatePerSecond ?? 500, burst: opts.signBurst ?? 1000 });
  }

  /** Join token + CSR → node SVID. The token is spent in the same transaction that records the certificate. */
  attest(token: unknown, csr: unknown, peer = "unknown"): IssuedSvid {
    if (typeof token !== "string" || token.length === 0 || token.length > 256) throw new PkiError("invalid_argument", "token must be a non-empty string");
    if (typeof csr !== "string") throw new PkiError("invalid_argument", "csr must be a PEM string");
    const parsed = parseCsr(csr);
    const hash = hashToken(token);
    const ca = this.ca;
    try {
      return ca.store.transaction(() => {
        const spent = ca.store.consumeToken(hash, ca.now());
        if ("problem" in spent) {
          const why = spent.problem === "used" ? "join token was already used" : spent.problem === "expired" ? "join token has expired" : "join token is not known";
          throw new PkiError("token_invalid", why);
        }
        const id = nodeSpiffeId(ca.trustDomain, spent.node);
        const svid = ca.issue({ spiffeId: id, publicKey: parsed.spkiDer, node: spent.node, kind: "node" });
        ca.store.upsertNode({ name: spent.node, spiffeId: id.toString(), attestedAt: ca.now(), lastSerial: svid.serial });
        ca.record({ action: "ca.attest", outcome: "success", actor: `node:${spent.node}`, subject: id.toString(), details: { token_id: hash.slice(0, 12), serial: svid.serial, peer } });
        return svid;
      });
    } catch (err) {
      if (err instanceof PkiError) {
        ca.record({ action: "ca.attest", outcome: "deny", actor: peer, reason: err.message, details: { token_id: hash.slice(0, 12) } });
      }
      throw err;
    }
  }

  /** An attested node asks for an SVID: its own node ID (renewal) or an ID registered to it. */
  sign(caller: SpiffeId, body: { spiffe_id?: unknown; csr?: unknown; ttl_seconds?: unknown }): IssuedSvid {
    const ca = this.ca;
    const node = nodeNameOf(ca, caller);
    if (!node) throw new PkiError("forbidden", `${caller.toString()} is not a node identity`);
    if (typeof body.spiffe_id !== "string") throw new PkiError("invalid_argument", "spiffe_id must be a string");
    if (typeof body.csr !== "string") throw new PkiError("invalid_argument", "csr must be a PEM string");
    if (body.ttl_seconds !== undefined && (typeof body.ttl_seconds !== "number" || !Number.isFinite(body.ttl_seconds))) {
      throw new PkiError("invalid_argument", "ttl_seconds must be a number");
    }
    const wait = this.limiter.take(node, ca.now().getTime());
    if (wait > 0) {
      ca.record({ action: "ca.sign", outcome: "deny", actor: `node:${node}`, subject: body.spiffe_id.slice(0, 2048), reason: "rate limited" });
      throw new PkiError("rate_limited", `node ${node} is over its CSR rate limit`, { retryAfter: Math.max(1, Math.ceil(wait)) });
    }
    const id = parseSpiffeId(body.spiffe_id);
    const parsed = parseCsr(body.csr);
    const requested = body.ttl_seconds as number | undefined;
    if (id.toString() === caller.toString()) {
      const svid = ca.issue({ spiffeId: id, publicKey: parsed.spkiDer, node, kind: "node", ttlSeconds: requested });
      ca.store.upsertNode({ name: node, spiffeId: id.toString(), attestedAt: ca.store.getNode(node)?.attestedAt ?? ca.now(), lastSerial: svid.serial });
      return svid;
    }
    const entry = ca.store.entryFor(node, id.toString());
    if (!entry) {
      ca.record({ action: "ca.sign", outcome: "deny", actor: `node:${node}`, subject: id.toString(), reason: "not registered for this node" });
      throw new PkiError("forbidden", `${id.toString()} is not registered for node ${node}`);
    }
    const ttl = requested ?? entry.ttlSeconds;
    return ca.issue({ spiffeId: id, publicKey: parsed.spkiDer, node, kind: "workload", ttlSeconds: ttl, dnsNames: entry.dnsNames });
  }

  entries(caller: SpiffeId): RegistrationEntry[] {
    const node = nodeNameOf(this.ca, caller);
    if (!node) throw new PkiError("forbidden", `${caller.toString()} is not a node identity`);
    return this.ca.store.entriesOf(node);
  }
}
