/**
 * A running sidecar: the SDS identity, listeners with their filter chains and
 * routes, clusters with their pools, the admin endpoint. Identity and trust
 * updates apply in place: listeners get a new secure context, mTLS pools are
 * recycled gracefully, connections from peers now revoked are closed, and
 * inbound connections made under our previous certificate are asked to close
 * after their current request.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import type { AuditSink } from "../audit/event.js";
import { AuditWindow } from "./audit-window.js";
import { openAccessLog, type AccessLog } from "./access-log.js";
import { startAdmin, type AdminServer } from "./admin.js";
import { Cluster } from "./cluster/cluster.js";
import { loadEndpointsFile, watchEndpointsFile, type EndpointsWatcher } from "./cluster/endpoints-file.js";
import type { LoadedConfig } from "./config/load.js";
import type { ProxyConfig } from "./config/schema.js";
import { FilterChain } from "./filters/chain.js";
import { FILTER_FACTORIES } from "./filters/registry.js";
import type { FilterRequest } from "./filters/types.js";
import type { FinishInfo } from "./http/exchange.js";
import { createHandler, type ListenerRuntime } from "./http/handler.js";
import { SdsIdentity, type IdentitySnapshot } from "./identity/sds-identity.js";
import { InFlight } from "./in-flight.js";
import { createListenerServer, listen, serverTlsOptions, type ListenerServer } from "./listeners.js";
import { ProxyMetrics } from "./metrics.js";
import { compileRoutes } from "./routing/table.js";
import { ConnectionRegistry } from "./tls/connections.js";
import { peerOf } from "./tls/peer-validate.js";
import { UpstreamForwarder } from "./upstream/forwarder.js";
import { PoolManager } from "./upstream/pools.js";

export interface SidecarLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface SidecarOptions {
  loaded: LoadedConfig;
  audit: AuditSink;
  logger: SidecarLogger;
  appToken?: string;
  clock?: () => Date;
  random?: () => number;
  /** How often expired peer connections are swept (default 5 s). */
  sweepIntervalMs?: number;
}

interface RunningListener {
  runtime: ListenerRuntime;
  srv: ListenerServer;
  port: number;
}

export class Sidecar {
  readonly metrics = new ProxyMetrics();
  readonly identity: SdsIdentity;
  readonly config: ProxyConfig;
  private readonly registry = new ConnectionRegistry();
  private readonly clusters = new Map<string, Cluster>();
  private readonly watchers: EndpointsWatcher[] = [];
  private readonly listeners: RunningListener[] = [];
  private readonly pools: PoolManager;
  private readonly clock: () => Date;
  /** The clock in epoch milliseconds; Date.now itself when no clock is given (no Date made per call on the request path). */
  private readonly nowMs: () => number;
  private readonly accessLog: AccessLog;
  /** Our certificate serial at each inbound connection's handshake. */
  private readonly socketSerial = new WeakMap<object, string>();
  private admin?: AdminServer;
  private sweepTimer?: NodeJS.Timeout;
  private draining = false;
  /** Responses in flight, so a drain can ask each one's client to close after it and wait for them. */
  private readonly live = new InFlight<ServerResponse>();
  private idleWaiters: Array<() => void> = [];
  /** TLS events (handshake failures, refused or revoked peers) audited per second at most. */
  private readonly tlsAudit: AuditWindow;

  private constructor(private readonly o: SidecarOptions) {
    this.config = o.loaded.config;
    this.clock = o.clock ?? (() => new Date());
    const clock = o.clock;
    this.nowMs = clock ? () => clock().getTime() : Date.now;
    this.tlsAudit = new AuditWindow(20, this.nowMs);
    this.identity = new SdsIdentity({ socketPath: this.config.sds.socket, appToken: o.appToken, nodeId: this.config.name, trustDomain: this.config.sds.trust_domain, clock: this.clock });
    const mtls = {
      identity: () => this.identity.current(),
      clock: this.clock,
      registry: this.registry,
      onHandshakeFailure: (reason: string) => this.metrics.handshakeFailures.labels("upstream", reason).inc(),
    };
    this.pools = new PoolManager(mtls);
    this.accessLog = openAccessLog(this.config.access_log);
  }

  static async start(o: SidecarOptions): Promise<Sidecar> {
    const s = new Sidecar(o);
    try {
      await s.boot();
    } catch (err) {
      await s.close(true);
      throw err;
    }
    return s;
  }

  private async boot(): Promise<void> {
    const c = this.config;
    const log = this.o.logger;
    for (const cc of c.clusters) {
      const endpoints = cc.endpoints_file ? loadEndpointsFile(cc.endpoints_file) : undefined;
      const cluster = new Cluster(cc, { random: this.o.random, endpoints, clock: this.nowMs });
      this.clusters.set(cc.name, cluster);
      if (cc.endpoints_file) {
        this.watchers.push(
          watchEndpointsFile(
            cc.endpoints_file,
            (list) => {
              cluster.setEndpoints(list);
              this.pools.prune(cluster.name, new Set(cluster.endpoints().map((e) => e.address)));
              log.info({ cluster: cluster.name, endpoints: list.length }, "endpoints reloaded");
            },
            (err) => log.warn({ cluster: cluster.name, err: err.message }, "endpoints file refused; keeping the last good list"),
            { initial: endpoints },
          ),
        );
      }
    }
    const forwarder = new UpstreamForwarder({
      clusters: this.clusters,
      pools: this.pools,
      metrics: this.metrics,
      mtls: { identity: () => this.identity.current(), clock: this.clock, registry: this.registry },
      random: this.o.random ?? Math.random,
      now: this.nowMs,
    });

    this.identity.on("change", (id, changed) => this.onIdentity(id, changed));
    this.identity.on("error", (err) => log.warn({ err: err.message }, "SDS client error"));
    this.identity.start();
    const id = await this.identity.ready(c.sds.wait_timeout);
    log.info({ spiffe_id: id.spiffeId, serial: id.serial, not_after: id.notAfter.toISOString() }, "identity received from SDS");

    for (const [i, lc] of c.listeners.entries()) {
      const filters = this.o.loaded.filters[i]!.map((f) =>
        FILTER_FACTORIES.get(f.name)!.create(f.config, { clock: this.clock, audit: this.o.audit, listenerName: lc.name, listener: lc.kind, baseDir: this.o.loaded.baseDir }),
      );
      const chain = new FilterChain(filters, {
        audit: this.o.audit,
        onDeny: (filter, d) => this.metrics.denials.labels(lc.name, filter, d.code).inc(),
        // the WAF audits itself; rate limiting is audited at most 10 times a second per listener
        quietFilters: new Set(["waf"]),
        sampledFilters: new Map([["rate_limit", new AuditWindow(10, this.nowMs)]]),
      });
      const runtime: ListenerRuntime = {
        name: lc.name,
        kind: lc.kind,
        routes: compileRoutes(lc.routes),
        chain,
        maxBodyBytes: lc.max_body_bytes,
        bodyTimeoutMs: lc.body_timeout,
        maxHeaderCount: lc.max_header_count,
        port: 0,
        tls: lc.kind === "inbound" || lc.tls !== undefined,
      };
      const srv = createListenerServer(lc, id);
      const handler = createHandler(runtime, {
        forwarder,
        identity: () => this.identity.current(),
        clock: this.clock,
        draining: () => this.draining,
        countBytes: this.accessLog.enabled,
        record: (l, route, status, seconds, fr, info, bytes, method, path) => this.record(l, route, status, seconds, fr, info, bytes, method, path),
      });
      srv.server.on("request", (req: IncomingMessage, res: ServerResponse) => this.track(runtime, req, res, handler.onRequest));
      srv.server.on("upgrade", handler.onUpgrade);
      if (lc.kind === "inbound") this.guardInbound(runtime, srv);
      const active = this.metrics.activeConnections.labels(lc.name);
      const accepted = this.metrics.acceptedConnections.labels(lc.name);
      srv.server.on("connection", (s: import("node:net").Socket) => {
        active.inc();
        accepted.inc();
        s.once("close", () => active.dec());
      });
      const port = await listen(srv.server, lc.listen);
      runtime.port = port;
      this.listeners.push({ runtime, srv, port });
      log.info({ listener: lc.name, kind: lc.kind, port }, "listening");
    }

    const [ah, ap] = splitHostPort(c.admin.listen);
    this.admin = await startAdmin(ah, ap, {
      metrics: this.metrics,
      ready: () => this.readiness(),
      certs: () => this.certs(),
      configDump: () => this.configDump(),
    });
    const sweep = this.o.sweepIntervalMs ?? 5000;
    this.sweepTimer = setInterval(() => this.sweep(), sweep);
    this.sweepTimer.unref();
  }

  /** Peer checks right after the handshake, before any request is read. */
  private guardInbound(l: ListenerRuntime, srv: ListenerServer): void {
    srv.server.on("secureConnection", (sock: TLSSocket) => {
      const id = this.identity.current();
      if (id) this.socketSerial.set(sock, id.serial);
      try {
        const v = peerOf(sock, id, this.clock());
        this.registry.add({ socket: sock, peer: v.peer, issuer: v.issuer, direction: "inbound" });
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        this.metrics.handshakeFailures.labels(l.name, "svid_invalid").inc();
        this.auditLimited({ component: "proxy", action: "mtls.peer_rejected", outcome: "deny", actor: sock.remoteAddress ?? "", subject: l.name, reason: reason.slice(0, 300) });
        sock.destroy();
      }
    });
    srv.server.on("tlsClientError", (err: Error & { code?: string }, sock: TLSSocket) => {
      this.metrics.handshakeFailures.labels(l.name, "tls").inc();
      this.auditLimited({ component: "proxy", action: "mtls.handshake_failed", outcome: "deny", actor: sock.remoteAddress ?? "", subject: l.name, reason: (err.code ?? err.message).slice(0, 200) });
    });
  }

  /** Handshake failures can come in floods (scanners): at most 20 audit events a second. */
  private auditLimited(e: Parameters<AuditSink["append"]>[0]): void {
    if (!this.tlsAudit.allow()) return;
    try {
      this.o.audit.append(e);
    } catch (err) {
      this.o.logger.warn({ err: (err as Error).message }, "audit append failed");
    }
  }

  private readonly onResponseClose = ((sidecar: Sidecar) =>
    function (this: ServerResponse): void {
      sidecar.live.delete(this);
      if (sidecar.live.size === 0 && sidecar.idleWaiters.length > 0) for (const w of sidecar.idleWaiters.splice(0)) w();
    })(this);

  private track(l: ListenerRuntime, req: IncomingMessage, res: ServerResponse, handle: (req: IncomingMessage, res: ServerResponse) => void): void {
    this.live.add(res);
    // one listener function for every response ("close" comes once): no closure per request
    res.on("close", this.onResponseClose);
    if (l.kind === "inbound") {
      const id = this.identity.current();
      // made under our previous certificate: finish this request, then let the client reconnect
      if (id && this.socketSerial.get(req.socket) !== id.serial) res.shouldKeepAlive = false;
    }
    if (this.draining) res.shouldKeepAlive = false;
    handle(req, res);
  }

  private record(l: ListenerRuntime, route: string, status: number, seconds: number, fr: FilterRequest | undefined, info: FinishInfo, bytes: number, method: string, path: string): void {
    this.metrics.record(l.name, route, status, seconds);
    if (!this.accessLog.enabled) return;
    this.accessLog.write({
      ts: this.clock().toISOString(),
      listener: l.name,
      route,
      method,
      path,
      status,
      duration_ms: Math.round(seconds * 100_000) / 100,
      bytes_sent: bytes,
      request_id: fr?.requestId ?? info.requestId ?? "",
      peer: fr?.peer?.spiffeId,
      user: fr?.auth?.principal,
      cluster: info.cluster,
      upstream: info.upstream,
      attempts: info.attempts,
      denied_by: info.deniedBy,
      code: info.code,
      remote: fr?.remoteAddress ?? "",
    });
  }

  private onIdentity(id: IdentitySnapshot, changed: { identity: boolean; trust: boolean }): void {
    this.metrics.expiry.reset();
    this.metrics.expiry.labels(id.spiffeId).set(id.notAfter.getTime() / 1000);
    if (changed.identity) this.metrics.identityUpdates.labels("identity").inc();
    if (changed.trust) this.metrics.identityUpdates.labels("trust").inc();
    if (!changed.identity && !changed.trust) return;
    for (const l of this.listeners) {
      if (l.runtime.kind === "inbound") (l.srv.server as import("node:https").Server).setSecureContext(serverTlsOptions(id));
    }
    if (changed.identity) this.pools.recycleMtls((name) => this.clusters.get(name)?.spiffeId !== undefined);
    if (changed.trust) {
      const n = this.registry.closeRevoked(id.trust, (c) => {
        this.metrics.connectionsClosed.labels("revoked").inc();
        this.auditLimited({ component: "proxy", action: "mtls.connection_closed", outcome: "deny", actor: c.peer.spiffeId, subject: c.direction, reason: `peer certificate ${c.peer.serial} revoked` });
      });
      if (n > 0) this.o.logger.warn({ closed: n }, "closed connections of revoked peers");
    }
    this.o.logger.info({ serial: id.serial, identity: changed.identity, trust: changed.trust }, "SDS update applied");
  }

  private sweep(): void {
    this.registry.closeExpired(this.clock(), () => this.metrics.connectionsClosed.labels("expired").inc());
  }

  private readiness(): { ok: boolean; reason?: string } {
    if (this.draining) return { ok: false, reason: "draining" };
    if (!this.identity.current()) return { ok: false, reason: "no valid identity from SDS" };
    if (this.listeners.length !== this.config.listeners.length) return { ok: false, reason: "listeners starting" };
    return { ok: true };
  }

  private certs(): unknown {
    const id = this.identity.last();
    if (!id) return { identity: null, sds: this.identity.sdsStatus() };
    return {
      identity: { spiffe_id: id.spiffeId, serial: id.serial, not_before: id.notBefore.toISOString(), not_after: id.notAfter.toISOString(), expired: this.clock() > id.notAfter, sds_version: id.version },
      trust_bundle: id.trust.roots.map((r) => ({ subject: r.subject, serial: r.serialNumber.toLowerCase(), not_after: new Date(r.validTo).toISOString() })),
      crls: { loaded: id.trust.crls, verified: id.trust.crlsVerified, revoked_serials: [...id.trust.revoked.values()].reduce((n, s) => n + s.size, 0) },
      sds: this.identity.sdsStatus(),
    };
  }

  private configDump(): unknown {
    return {
      config: this.config,
      listeners: this.listeners.map((l) => ({ name: l.runtime.name, kind: l.runtime.kind, port: l.port, filters: l.runtime.chain.filters.map((f) => f.name), routes: l.runtime.routes.routes.map((r) => r.name) })),
      clusters: [...this.clusters.values()].map((c) => c.stats()),
      connections: { tracked_mtls: this.registry.size },
      process: { pid: process.pid, uptime_s: Math.round(process.uptime()), memory: process.memoryUsage() },
    };
  }

  /** Listening ports by listener name, and the admin port. */
  ports(): { listeners: Record<string, number>; admin: number } {
    return { listeners: Object.fromEntries(this.listeners.map((l) => [l.runtime.name, l.port])), admin: this.admin?.port ?? 0 };
  }

  /**
   * Graceful stop: stop accepting, ask kept-alive clients to go (Connection:
   * close on the next response, idle ones closed now), wait for requests in
   * flight up to the drain timeout, then close everything.
   */
  async drain(timeoutMs = this.config.drain_timeout): Promise<void> {
    this.draining = true;
    for (const res of this.live.list()) if (!res.headersSent) res.shouldKeepAlive = false;
    for (const l of this.listeners) {
      l.srv.server.close();
      l.srv.server.closeIdleConnections();
    }
    if (this.live.size > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, timeoutMs);
        this.idleWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    await this.close(false);
  }

  async close(force = true): Promise<void> {
    this.draining = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    for (const w of this.watchers) w.close();
    for (const l of this.listeners) for (const f of l.runtime.chain.filters) f.close?.();
    for (const l of this.listeners) {
      l.srv.server.close();
      l.srv.server.closeAllConnections();
      for (const s of l.srv.sockets) s.destroy();
    }
    this.registry.destroyAll();
    await this.pools.closeAll(force);
    await this.admin?.close();
    await this.identity.stop();
    await this.accessLog.close();
  }
}

function splitHostPort(a: string): [string, number] {
  const i = a.lastIndexOf(":");
  return [a.slice(0, i).replace(/^\[|\]$/g, ""), Number(a.slice(i + 1))];
}
