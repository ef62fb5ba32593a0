/**
 * The sidecar's Prometheus metrics (one registry per proxy so tests can run
 * several). The per-request ones are tallies (tally.ts) found through maps
 * keyed by the config's names, so the request path does no label hashing.
 */
import { Counter, Gauge, Registry } from "prom-client";
import { TallyCounter, TallyHistogram, type CounterSeries, type HistogramSeries } from "./tally.js";

export class ProxyMetrics {
  readonly registry = new Registry();
  /** The three metrics every request touches are tallies (tally.ts): prom-client would hash their labels on every request. */
  readonly requests = new TallyCounter("mesh_proxy_requests_total", "Requests answered, by listener, route and status code", ["listener", "route", "code"], this.registry);
  readonly duration = new TallyHistogram(
    "mesh_proxy_request_duration_seconds",
    "Time from request headers to the end of the response, by listener and route",
    ["listener", "route"],
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    this.registry,
  );
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
  readonly upstream = new TallyCounter(
    "mesh_proxy_upstream_requests_total",
    "Upstream attempts, by cluster and outcome (a status class, connect_failure, reset, timeout, overflow, no_healthy)",
    ["cluster", "outcome"],
    this.registry,
  );
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

  /** Series by listener, then route (names from config, the same string objects on every request). */
  private readonly routes = new Map<string, Map<string, RouteSeries>>();
  /** Upstream series by cluster, then outcome. */
  private readonly outcomes = new Map<string, Map<string, CounterSeries>>();

  /** One upstream attempt's outcome. */
  upstreamResult(cluster: string, outcome: string): void {
    let byOutcome = this.outcomes.get(cluster);
    if (byOutcome === undefined) this.outcomes.set(cluster, (byOutcome = new Map()));
    let c = byOutcome.get(outcome);
    if (c === undefined) byOutcome.set(outcome, (c = this.upstream.series([cluster, outcome])));
    c.value++;
  }

  /** One finished request: counts it and observes its duration. */
  record(listener: string, route: string, status: number, seconds: number): void {
    let byRoute = this.routes.get(listener);
    if (byRoute === undefined) this.routes.set(listener, (byRoute = new Map()));
    let r = byRoute.get(route);
    if (r === undefined) byRoute.set(route, (r = { duration: this.duration.series([listener, route]), codes: new Map() }));
    this.duration.observe(r.duration, seconds);
    let c = r.codes.get(status);
    if (c === undefined) r.codes.set(status, (c = this.requests.series([listener, route, String(status)])));
    c.value++;
  }
}

interface RouteSeries {
  readonly duration: HistogramSeries;
  readonly codes: Map<number, CounterSeries>;
}
