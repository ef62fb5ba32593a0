/**
 * The SDS server: one Unix-domain WebSocket socket per workload under `dir`,
 * each serving only that workload's secrets with Envoy's state-of-the-world
 * semantics (see stream.ts). Embedded by the node agent, which calls
 * setSecrets whenever a certificate, bundle or CRL changes.
 */
import { join } from "node:path";
import { CloseCode, SdsError } from "./errors.js";
import type { SdsEvent } from "./events.js";
import { isValidWorkloadName, type WorkloadSecrets } from "./protocol.js";
import { ensureDir } from "./socket-file.js";
import { Workload, type WorkloadLimits } from "./workload.js";

export type { SdsEvent } from "./events.js";
export type { WorkloadSecrets } from "./protocol.js";

export interface SdsServerOptions {
  /** Directory of the sockets, `<dir>/<workload>.sock`; created 0700 if missing. */
  dir: string;
  /** Called synchronously; a throwing callback is ignored. Never carries a token or key. */
  onEvent?: (e: SdsEvent) => void;
  /** Largest client frame (default 64 KiB); bigger ones are closed with 1009. */
  maxFrameBytes?: number;
  /** Connected clients per workload socket (default 16); more are refused with HTTP 503. */
  maxClientsPerWorkload?: number;
  /** Unsent bytes tolerated for one client before it counts as not reading and is dropped (default 1 MiB). */
  maxBufferedBytes?: number;
  /** Time from connect to completed WebSocket upgrade (default 5 s). */
  handshakeTimeoutMs?: number;
  /** Time from upgrade to the first DiscoveryRequest (default 10 s); then close 1008. */
  firstRequestTimeoutMs?: number;
  /** Ping interval (default 30 s); a peer silent for two intervals is dropped. */
  heartbeatMs?: number;
  /** How long a closed client has to answer the close frame before its socket is cut (default 1 s). */
  closeGraceMs?: number;
  clock?: () => Date;
}

export class SdsServer {
  private readonly dir: string;
  private readonly workloadsByName = new Map<string, Workload>();
  /** Names being added, so that two concurrent addWorkload calls cannot race. */
  private readonly pending = new Set<string>();
  private readonly limits: WorkloadLimits;
  private readonly onEvent: ((e: SdsEvent) => void) | undefined;
  private closed = false;

  constructor(opts: SdsServerOptions) {
    this.dir = opts.dir;
    this.onEvent = opts.onEvent;
    const positive = (v: number | undefined, name: string, dflt: number): number => {
      if (v === undefined) return dflt;
      if (!Number.isInteger(v) || v <= 0) throw new SdsError("invalid_argument", `${name} must be a positive integer`);
      return v;
    };
    this.limits = {
      maxFrameBytes: positive(opts.maxFrameBytes, "maxFrameBytes", 64 * 1024),
      maxClients: positive(opts.maxClientsPerWorkload, "maxClientsPerWorkload", 16),
      maxBufferedBytes: positive(opts.maxBufferedBytes, "maxBufferedBytes", 1024 * 1024),
      handshakeTimeoutMs: positive(opts.handshakeTimeoutMs, "handshakeTimeoutMs", 5000),
      firstRequestTimeoutMs: positive(opts.firstRequestTimeoutMs, "firstRequestTimeoutMs", 10_000),
      heartbeatMs: positive(opts.heartbeatMs, "heartbeatMs", 30_000),
      closeGraceMs: positive(opts.closeGraceMs, "closeGraceMs", 1000),
      clock: opts.clock ?? (() => new Date()),
    };
  }

  private emit = (e: SdsEvent): void => {
    try {
      this.onEvent?.(e);
    } catch {
      // The embedder's callback must not break a client's stream.
    }
  };

  /** Path of a workload's socket (whether or not it exists). */
  socketPath(name: string): string {
    if (!isValidWorkloadName(name)) throw new SdsError("invalid_argument", "workload name must match [a-z0-9][a-z0-9._-]{0,62}");
    return join(this.dir, `${name}.sock`);
  }

  async addWorkload(name: string, opts: { appToken?: string; uid?: number; gid?: number } = {}): Promise<void> {
    if (this.closed) throw new SdsError("closed", "SDS server is closed");
    const path = this.socketPath(name);
    if (this.workloadsByName.has(name) || this.pending.has(name)) throw new SdsError("conflict", `workload ${name} already exists`);
    if (opts.appToken !== undefined && (typeof opts.appToken !== "string" || opts.appToken.length < 16 || /\s/.test(opts.appToken))) {
      throw new SdsError("invalid_argument", "appToken must be at least 16 characters without whitespace");
    }
    this.pending.add(name);
    try {
      await ensureDir(this.dir);
      const workload = new Workload(name, path, opts.appToken, this.limits, this.emit);
      await workload.listen({ uid: opts.uid, gid: opts.gid });
      if (this.closed) {
        await workload.close(CloseCode.goingAway, "server shutting down");
        throw new SdsError("closed", "SDS server is closed");
      }
      this.workloadsByName.set(name, workload);
    } finally {
      this.pending.delete(name);
    }
  }

  async removeWorkload(name: string): Promise<void> {
    const workload = this.workloadsByName.get(name);
    if (!workload) throw new SdsError("not_found", `no workload ${name}`);
    this.workloadsByName.delete(name);
    await workload.close(CloseCode.goingAway, "workload removed");
  }

  /** New content becomes a new version and is pushed to subscribers whose resources changed; identical content is a no-op. */
  setSecrets(name: string, secrets: WorkloadSecrets): void {
    const workload = this.workloadsByName.get(name);
    if (!workload) throw new SdsError("not_found", `no workload ${name}`);
    workload.setSecrets(secrets);
  }

  /** The current version of a workload's secrets ("0" before any). */
  version(name: string): string {
    const workload = this.workloadsByName.get(name);
    if (!workload) throw new SdsError("not_found", `no workload ${name}`);
    return workload.version();
  }

  workloads(): string[] {
    return [...this.workloadsByName.keys()].sort();
  }

  /** Clients that have sent a valid first request, on one workload or on all. */
  subscriberCount(name?: string): number {
    if (name !== undefined) return this.workloadsByName.get(name)?.subscriberCount() ?? 0;
    let n = 0;
    for (const w of this.workloadsByName.values()) n += w.subscriberCount();
    return n;
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.workloadsByName.values()];
    this.workloadsByName.clear();
    await Promise.all(all.map((w) => w.close(CloseCode.goingAway, "server shutting down")));
  }
}
