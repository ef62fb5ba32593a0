/**
 * The sidecar's Prometheus metrics (one registry per proxy so tests can run
 * several). Label children are cached per (listener, route, status) so the
 * request path does no label hashing after the first request of a kind.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";

type Inc = { inc(v?: number): void };
type Obs = { observe(v: number): void };

export class ProxyMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: "mesh_proxy_requests_total",
    help: "Requests answered, by listener, route and status code",
    labelNames: ["listener", "route", "code"] as const,
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: "mesh_proxy_request_duration_seconds",
    help: "Time from request headers to the end of the response, by listener and route",
    labelNames: ["listener", "route"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly denials = new Counter({
    name: "mesh_proxy_denials_total",
    help: "Requests refused by a filter, by listener, filter and code",
    labelNames: ["listener", "filter", "code"] as const,
    registers: [this.registry],
  });
  readonly handshakeFailures = new Counter({
    name: "mesh_proxy_handshake_failures_total",
    help: "Failed mTLS handshakes or refused peers, by listener and reason",
    labelNames: ["listener", "reason"] as const,
    registers: [this.registry],
  });
  readonly connectionsClosed = new Counter({
    name: "mesh_proxy_connections_closed_total",
    help: "Live connections closed by the proxy, by reason (revoked, expired)",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });
  readonly upstream = new Counter({
    name: "mesh_proxy_upstream_requests_total",
    help: "Upstream attempts, by cluster and outcome (a status class, connect_failure, reset, timeout, overflow, no_healthy)",
    labelNames: ["cluster", "outcome"] as const,
    registers: [this.registry],
  });
  readonly retries = new Counter({
    name: "mesh_proxy_upstream_retries_total",
    help: "Retried upstream attempts, by cluster",
    labelNames: ["cluster"] as const,
    registers: [this.registry],
  });
  readonly ejections = new Counter({
    name: "mesh_proxy_outlier_ejections_total",
    help: "Endpoints ejected by outlier detection, by cluster",
    labelNames: ["cluster"] as const,
    registers: [this.registry],
  });
  readonly expiry = new Gauge({
    name: "mesh_proxy_identity_expiry_timestamp_seconds",
    help: "Absolute expiry time (unix seconds) of the identity in use",
    labelNames: ["spiffe_id"] as const,
    registers: [this.registry],
  });
  readonly identityUpdates = new Counter({
    name: "mesh_proxy_identity_updates_total",
    help: "Identity or trust updates applied from SDS, by kind (identity, trust)",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });
  readonly activeConnections = new Gauge({
    name: "mesh_proxy_downstream_connections",
    help: "Open downstream connections, by listener",
    labelNames: ["listener"] as const,
    registers: [this.registry],
  });

  readonly acceptedConnections = new Counter({
    name: "mesh_proxy_downstream_connections_total",
    help: "Downstream connections accepted, by listener",
    labelNames: ["listener"] as const,
    registers: [this.registry],
  });

  private readonly reqChildren = new Map<string, Inc>();
  private readonly durChildren = new Map<string, Obs>();

  private readonly upChildren = new Map<string, Inc>();

  /** One upstream attempt's outcome, with the labelled child cached (cluster names come from config). */
  upstreamResult(cluster: string, outcome: string): void {
    const key = `${cluster}\u0000${outcome}`;
    let c = this.upChildren.get(key);
    if (!c) {
      c = this.upstream.labels(cluster, outcome);
      if (this.upChildren.size < 10_000) this.upChildren.set(key, c);
    }
    c.inc();
  }

  /** One finished request: counts it and observes its duration. */
  record(listener: string, route: string, status: number, seconds: number): void {
    const key = `${listener}\u0000${route}`;
    let d = this.durChildren.get(key);
    if (!d) {
      d = this.duration.labels(listener, route);
      this.durChildren.set(key, d);
    }
    d.observe(seconds);
    const rkey = `${key}\u0000${status}`;
    let c = this.reqChildren.get(rkey);
    if (!c) {
      c = this.requests.labels(listener, route, String(status));
      // bounded: statuses are 3-digit, routes and listeners come from config
      if (this.reqChildren.size < 10_000) this.reqChildren.set(rkey, c);
    }
    c.inc();
  }
}
