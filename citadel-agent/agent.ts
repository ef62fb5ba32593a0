/**
 * The node agent: keeps its node identity, mirrors the node's registration
 * entries as SDS sockets, keeps every workload's identity fresh (renewing at
 * ~50% of its life with a new key each time), and pushes the trust bundle and
 * CRL to every subscriber when they change. All decisions happen in tick(),
 * which takes the time from the clock, so tests drive it without sleeping.
 */
import type { Logger } from "pino";
import type { AuditSink } from "../audit/event.js";
import type { SdsServer } from "../sds-server/server.js";
import type { WorkloadSecrets } from "../sds-server/protocol.js";
import { CaClient, type EntryResponse } from "./ca-client.js";
import type { AgentConfig } from "./config.js";
import { AgentError } from "./errors.js";
import type { AgentMetrics } from "./metrics.js";
import { attestNode, loadNodeSvid, obtainSvid, saveNodeSvid, type Svid } from "./node-identity.js";
import { Backoff, renewalTime, type Random } from "./schedule.js";
import { readFileSync } from "node:fs";

interface WorkloadState {
  entry: EntryResponse;
  svid?: Svid;
  renewAt?: Date;
  nextAttempt: number;
  backoff: Backoff;
  inFlight: boolean;
}

export interface AgentDeps {
  config: AgentConfig;
  sds: SdsServer;
  audit: AuditSink;
  logger: Logger;
  metrics: AgentMetrics;
  clock?: () => Date;
  random?: Random;
}

export class NodeAgent {
  private readonly cfg: AgentConfig;
  private readonly clock: () => Date;
  private readonly random: Random;
  private node?: Svid;
  private nodeRenewAt = 0;
  private nodeAttempt = 0;
  private readonly nodeBackoff: Backoff;
  private client?: CaClient;
  private bundlePem: string;
  private crlPem = "";
  private nextSync = 0;
  private readonly syncBackoff: Backoff;
  private readonly workloads = new Map<string, WorkloadState>();
  private ticking = false;
  private timer?: NodeJS.Timeout;
  private inFlight = 0;
  private stopped = false;

  constructor(private readonly deps: AgentDeps) {
    this.cfg = deps.config;
    this.clock = deps.clock ?? (() => new Date());
    this.random = deps.random ?? Math.random;
    const bo = { initialMs: this.cfg.backoff.initial * 1000, maxMs: this.cfg.backoff.max * 1000, jitter: 0.2 };
    this.nodeBackoff = new Backoff(bo, this.random);
    this.syncBackoff = new Backoff(bo, this.random);
    this.bundlePem = readFileSync(this.cfg.ca.bundle_file, "utf8");
  }

  /** Loads or obtains the node identity and starts the tick loop. */
  async start(intervalMs = 250): Promise<void> {
    const saved = loadNodeSvid(this.cfg.data_dir, this.clock());
    if (saved) {
      this.setNode(saved, "loaded");
      if (saved.bundlePem) this.bundlePem = saved.bundlePem;
    }
    await this.tick();
    this.timer = setInterval(() => void this.tick(), intervalMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.client?.close();
  }

  /** True once the node is attested and every workload holds a valid identity. */
  ready(): boolean {
    const now = this.clock().getTime();
    if (!this.node || this.node.notAfter.getTime() <= now) return false;
    for (const w of this.workloads.values()) if (!w.svid || w.svid.notAfter.getTime() <= now) return false;
    return true;
  }

  status() {
    return {
      node: this.node ? { spiffe_id: this.node.spiffeId, serial: this.node.serial, not_after: this.node.notAfter.toISOString() } : null,
      workloads: [...this.workloads.entries()].map(([name, w]) => ({
        workload: name,
        spiffe_id: w.entry.spiffe_id,
        serial: w.svid?.serial ?? null,
        not_after: w.svid?.notAfter.toISOString() ?? null,
        renew_at: w.renewAt?.toISOString() ?? null,
      })),
    };
  }

  /** One pass over everything that may be due. Overlapping calls return at once. */
  async tick(): Promise<void> {
    if (this.ticking || this.stopped) return;
    this.ticking = true;
    try {
      const now = this.clock().getTime();
      if (!this.node || now >= this.nodeRenewAt) await this.ensureNode(now);
      if (!this.node) return;
      if (now >= this.nextSync) await this.sync(now);
      this.renewDue(now);
      this.expireStale(now);
      this.deps.metrics.sdsSubscribers.set(this.deps.sds.subscriberCount());
    } finally {
      this.ticking = false;
    }
  }

  private caClient(): CaClient {
    if (!this.client) {
      this.client = new CaClient({
        url: this.cfg.ca.url,
        trustDomain: this.cfg.trust_domain,
        bundlePem: this.bundlePem,
        identity: this.node ? { certPem: this.node.certPem, keyPem: this.node.keyPem } : undefined,
      });
    }
    return this.client;
  }

  private resetClient(): void {
    this.client?.close();
    this.client = undefined;
  }

  private setNode(svid: Svid, how: "loaded" | "attested" | "renewed"): void {
    this.node = svid;
    this.nodeRenewAt = renewalTime(issuedAt(svid, this.clock()), svid.notAfter, this.cfg.renewal, this.random).getTime();
    this.deps.metrics.expiry.set({ spiffe_id: svid.spiffeId, kind: "node" }, svid.notAfter.getTime() / 1000);
    this.resetClient();
    this.deps.logger.info({ spiffe_id: svid.spiffeId, serial: svid.serial, not_after: svid.notAfter.toISOString(), how }, "node identity");
  }

  private async ensureNode(now: number): Promise<void> {
    if (now < this.nodeAttempt) return;
    const attesting = !this.node || this.node.notAfter.getTime() <= now;
    try {
      const svid = attesting
        ? await attestNode(this.caClient(), this.cfg.join_token_file)
        : await obtainSvid((csr) => this.caClient().sign(this.node!.spiffeId, csr));
      saveNodeSvid(this.cfg.data_dir, svid);
      if (svid.bundlePem) this.bundlePem = svid.bundlePem;
      this.setNode(svid, attesting ? "attested" : "renewed");
      this.nodeBackoff.succeed();
      this.deps.metrics.renewals.inc({ kind: "node", outcome: "success" });
      this.deps.audit.append({ component: "agent", action: attesting ? "agent.attest" : "agent.renew", outcome: "success", actor: `node:${this.cfg.node}`, subject: svid.spiffeId, details: { serial: svid.serial, not_after: svid.notAfter.toISOString(), kind: "node" } });
    } catch (err) {
      const wait = this.nodeBackoff.fail();
      this.nodeAttempt = now + wait;
      this.deps.metrics.renewals.inc({ kind: "node", outcome: "failure" });
      this.deps.metrics.caErrors.inc({ op: attesting ? "attest" : "sign" });
      this.deps.logger.warn({ err: errText(err), retry_in_ms: Math.round(wait) }, attesting ? "node attestation failed" : "node renewal failed");
      this.deps.audit.append({ component: "agent", action: attesting ? "agent.attest" : "agent.renew", outcome: "failure", actor: `node:${this.cfg.node}`, reason: errText(err), details: { kind: "node", retry_in_ms: Math.round(wait) } });
      if (err instanceof AgentError && err.status === 401) this.resetClient();
    }
  }

  /** Entries, bundle and CRL from the CA; sockets appear and disappear with the entries. */
  private async sync(now: number): Promise<void> {
    try {
      const client = this.caClient();
      const [entries, bundle, crl] = await Promise.all([client.entries(), client.bundle(), client.crl()]);
      this.syncBackoff.succeed();
      this.nextSync = now + this.cfg.poll_interval * 1000;
      await this.applyEntries(entries, now);
      const rootsChanged = bundle.pem !== this.bundlePem || crl !== this.crlPem;
      this.deps.metrics.bundleSequence.set(bundle.sequence);
      if (rootsChanged) {
        const newBundle = bundle.pem !== this.bundlePem;
        this.bundlePem = bundle.pem;
        this.crlPem = crl;
        if (newBundle) this.resetClient(); // the CA's serving cert may now chain to a new root
        for (const name of this.workloads.keys()) this.publish(name);
        this.deps.logger.info({ sequence: bundle.sequence }, "trust bundle or CRL changed; pushed to subscribers");
      }
    } catch (err) {
      const wait = this.syncBackoff.fail();
      this.nextSync = now + wait;
      this.deps.metrics.caErrors.inc({ op: "sync" });
      this.deps.logger.warn({ err: errText(err), retry_in_ms: Math.round(wait) }, "sync with the CA failed; serving what we have");
    }
  }

  private async applyEntries(entries: EntryResponse[], now: number): Promise<void> {
    const wanted = new Map(entries.map((e) => [e.workload, e]));
    for (const [name, st] of this.workloads) {
      const e = wanted.get(name);
      if (!e || e.spiffe_id !== st.entry.spiffe_id) {
        this.workloads.delete(name);
        await this.deps.sds.removeWorkload(name);
        if (st.svid) this.deps.metrics.expiry.remove({ spiffe_id: st.entry.spiffe_id, kind: "workload" });
        this.deps.logger.info({ workload: name }, "workload removed");
      }
    }
    for (const [name, e] of wanted) {
      if (this.workloads.has(name)) {
        this.workloads.get(name)!.entry = e;
        continue;
      }
      const opt = this.cfg.workloads[name];
      try {
        const appToken = opt?.app_token_file ? readFileSync(opt.app_token_file, "utf8").trim() : undefined;
        await this.deps.sds.addWorkload(name, { appToken, uid: opt?.uid, gid: opt?.gid });
      } catch (err) {
        // one workload's bad socket settings must not hold up the others
        this.deps.logger.error({ workload: name, err: errText(err) }, "cannot serve this workload; will retry at the next sync");
        continue;
      }
      this.workloads.set(name, { entry: e, nextAttempt: now, backoff: new Backoff({ initialMs: this.cfg.backoff.initial * 1000, maxMs: this.cfg.backoff.max * 1000, jitter: 0.2 }, this.random), inFlight: false });
      this.publish(name);
      this.deps.logger.info({ workload: name, spiffe_id: e.spiffe_id }, "workload added");
    }
    this.deps.metrics.workloads.set(this.workloads.size);
  }

  private renewDue(now: number): void {
    for (const [name, st] of this.workloads) {
      if (this.inFlight >= this.cfg.max_concurrent_signs) return;
      if (st.inFlight || now < st.nextAttempt) continue;
      if (st.svid && st.renewAt && now < st.renewAt.getTime()) continue;
      st.inFlight = true;
      this.inFlight++;
      void this.renewWorkload(name, st).finally(() => {
        st.inFlight = false;
        this.inFlight--;
        this.scheduleRefill();
      });
    }
  }

  private refillScheduled = false;

  /**
   * Starts the next due renewals as soon as slots free up, rather than at the
   * next tick: with thousands of workloads the tick interval would otherwise
   * cap the rate at max_concurrent_signs per tick. Coalesced to one pass per
   * event-loop turn.
   */
  private scheduleRefill(): void {
    if (this.refillScheduled || this.stopped) return;
    this.refillScheduled = true;
    setImmediate(() => {
      this.refillScheduled = false;
      if (!this.stopped && this.node) this.renewDue(this.clock().getTime());
    });
  }

  private async renewWorkload(name: string, st: WorkloadState): Promise<void> {
    const spiffeId = st.entry.spiffe_id;
    try {
      const svid = await obtainSvid((csr) => this.caClient().sign(spiffeId, csr, st.entry.ttl_seconds ?? undefined));
      if (this.workloads.get(name) !== st) return; // removed meanwhile
      st.svid = svid;
      st.renewAt = renewalTime(issuedAt(svid, this.clock()), svid.notAfter, this.cfg.renewal, this.random);
      st.backoff.succeed();
      this.publish(name);
      this.deps.metrics.renewals.inc({ kind: "workload", outcome: "success" });
      this.deps.metrics.expiry.set({ spiffe_id: spiffeId, kind: "workload" }, svid.notAfter.getTime() / 1000);
      this.deps.audit.append({ component: "agent", action: "agent.renew", outcome: "success", actor: `node:${this.cfg.node}`, subject: spiffeId, details: { workload: name, serial: svid.serial, not_after: svid.notAfter.toISOString(), kind: "workload" } });
    } catch (err) {
      const wait = st.backoff.fail();
      st.nextAttempt = this.clock().getTime() + wait;
      this.deps.metrics.renewals.inc({ kind: "workload", outcome: "failure" });
      this.deps.metrics.caErrors.inc({ op: "sign" });
      this.deps.logger.warn({ workload: name, err: errText(err), retry_in_ms: Math.round(wait) }, "workload renewal failed");
      this.deps.audit.append({ component: "agent", action: "agent.renew", outcome: "failure", actor: `node:${this.cfg.node}`, subject: spiffeId, reason: errText(err), details: { workload: name, kind: "workload", retry_in_ms: Math.round(wait) } });
    }
  }

  /** Never serve an expired certificate: an identity past notAfter is withdrawn. */
  private expireStale(now: number): void {
    for (const [name, st] of this.workloads) {
      if (st.svid && st.svid.notAfter.getTime() <= now) {
        this.deps.logger.error({ workload: name, spiffe_id: st.entry.spiffe_id }, "identity expired before it could be renewed; withdrawn");
        st.svid = undefined;
        st.renewAt = undefined;
        this.publish(name);
      }
    }
  }

  private publish(name: string): void {
    const st = this.workloads.get(name);
    if (!st) return;
    const secrets: WorkloadSecrets = { ROOTCA: { trustedCaPem: this.bundlePem, ...(this.crlPem ? { crlPem: this.crlPem } : {}) } };
    if (st.svid) secrets.default = { certificateChainPem: st.svid.certPem, privateKeyPem: st.svid.keyPem };
    this.deps.sds.setSecrets(name, secrets);
  }
}

/**
 * The lifetime the renewal fraction applies to starts when we got the
 * certificate: NotBefore is back-dated (60 s) for clock skew, and with short
 * TTLs counting from it would make the renewal instant already past.
 */
function issuedAt(svid: Svid, now: Date): Date {
  return new Date(Math.max(svid.notBefore.getTime(), Math.min(now.getTime(), svid.notAfter.getTime())));
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
