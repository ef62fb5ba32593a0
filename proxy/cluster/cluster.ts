/**
 * A cluster: its endpoints, load balancer, outlier detection, circuit
 * breakers and retry budget, tied together. Pure logic: time comes in as a
 * clock or `now` arguments and the caller does all I/O.
 *
 * Contract: every endpoint returned by pick() gets exactly one onResult()
 * (with "cancelled" when the downstream went away), which keeps the
 * in-flight counts that least_request and the stats rely on.
 */
import { ProxyError } from "../errors.js";
import { CircuitBreaker, type BreakerStats } from "./circuit-breaker.js";
import { Endpoint, parseEndpointAddress, type EndpointAddress } from "./endpoint.js";
import { createLoadBalancer, type LoadBalancer } from "./lb.js";
import { OutlierDetector, isFailure } from "./outlier.js";
import { decideRetry, type AttemptOutcome, type RetryDecision, type RetryPolicy } from "./retry.js";
import type { ClusterConfig } from "./schema.js";

/** How an attempt ended, as the caller reports it; "cancelled" (downstream gone) is not held against the endpoint. */
export type ResultOutcome = AttemptOutcome | "cancelled";

export interface ClusterOptions {
  /** Milliseconds since the epoch (default Date.now). */
  readonly clock?: () => number;
  /** Uniform [0, 1) for least_request and retry jitter (default Math.random). */
  readonly random?: () => number;
  /** The endpoint list when the config has endpoints_file (already loaded by the caller). */
  readonly endpoints?: readonly string[];
}

export interface ResolvedTimeouts {
  readonly connectTimeoutMs: number;
  /** 0 = none. */
  readonly timeoutMs: number;
  /** 0 = none; never above a non-zero timeoutMs. */
  readonly perTryTimeoutMs: number;
}

/** The route's timeouts where it sets them, the cluster's otherwise. */
export function resolveTimeouts(cluster: ClusterConfig, route?: { readonly timeoutMs?: number; readonly perTryTimeoutMs?: number }): ResolvedTimeouts {
  const timeoutMs = route?.timeoutMs ?? cluster.timeout;
  let perTryTimeoutMs = route?.perTryTimeoutMs ?? cluster.per_try_timeout;
  if (timeoutMs > 0 && perTryTimeoutMs > timeoutMs) perTryTimeoutMs = timeoutMs;
  return { connectTimeoutMs: cluster.connect_timeout, timeoutMs, perTryTimeoutMs };
}

export interface EndpointStats {
  readonly address: string;
  readonly active: number;
  readonly ejected: boolean;
  /** Ms since the epoch; 0 when never ejected. */
  readonly ejected_until_ms: number;
  readonly ejections: number;
  readonly consecutive_5xx: number;
  readonly results_total: number;
  readonly errors_total: number;
}

export interface ClusterStats {
  readonly name: string;
  readonly lb: ClusterConfig["lb"];
  readonly spiffe_id: string | null;
  readonly membership_total: number;
  readonly membership_healthy: number;
  readonly ejections_active: number;
  readonly ejections_total: number;
  /** Ejections max_ejection_percent refused. */
  readonly ejections_overflow: number;
  /** Picks made with every endpoint ejected, and picks that found no endpoint at all. */
  readonly lb_panic_total: number;
  readonly no_endpoint_total: number;
  readonly rq_total: number;
  readonly rq_2xx_4xx: number;
  readonly rq_5xx: number;
  readonly connect_failure: number;
  readonly reset: number;
  readonly timeout: number;
  readonly cancelled: number;
  readonly retries_total: number;
  readonly retry_overflow: number;
  readonly endpoint_updates: number;
  readonly circuit_breakers: BreakerStats;
  readonly endpoints: readonly EndpointStats[];
}

function toAddresses(list: readonly string[], what: string): EndpointAddress[] {
  const out: EndpointAddress[] = [];
  const seen = new Set<string>();
  list.forEach((text, i) => {
    const r = parseEndpointAddress(text);
    if (typeof r === "string") throw new ProxyError("invalid_config", `${what}[${i}]: ${r}`);
    if (!seen.has(r.address)) out.push(r);
    seen.add(r.address);
  });
  return out;
}

export class Cluster {
  readonly name: string;
  readonly config: ClusterConfig;
  readonly spiffeId: string | undefined;
  readonly breaker: CircuitBreaker;
  readonly outlier: OutlierDetector | undefined;
  private readonly clock: () => number;
  private readonly random: () => number;
  private readonly lb: LoadBalancer;
  private hosts: Endpoint[] = [];
  private byAddress = new Map<string, Endpoint>();
  private readonly n = {
    panic: 0, noEndpoint: 0, rq: 0, ok: 0, s5xx: 0, connectFailure: 0, reset: 0, timeout: 0, cancelled: 0, retries: 0, retryOverflow: 0, updates: 0,
  };

  constructor(config: ClusterConfig, opts: ClusterOptions = {}) {
    this.name = config.name;
    this.config = config;
    this.spiffeId = config.spiffe_id;
    this.clock = opts.clock ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.lb = createLoadBalancer(config.lb, this.random);
    this.breaker = new CircuitBreaker(config, config.name);
    this.outlier = config.outlier_detection ? new OutlierDetector(config.outlier_detection) : undefined;
    const initial = config.endpoints ?? opts.endpoints;
    if (initial === undefined) throw new ProxyError("invalid_config", `cluster "${config.name}": endpoints_file given but no endpoints loaded from it`);
    this.setEndpoints(initial);
    this.n.updates = 0;
  }

  endpoints(): readonly Endpoint[] {
    return this.hosts;
  }

  /**
   * An endpoint for the next attempt (its in-flight count taken), or
   * undefined when the cluster has none (→ ProxyError "no_healthy_upstream").
   * `avoid`: the endpoint the previous attempt failed on; used again only when no other is healthy.
   */
  pick(opts: { readonly now?: number; readonly avoid?: Endpoint } = {}): Endpoint | undefined {
    const now = opts.now ?? this.clock();
    const r = this.lb.pick(this.hosts, now, opts.avoid);
    if (!r) {
      this.n.noEndpoint++;
      return undefined;
    }
    if (r.panic) this.n.panic++;
    r.endpoint.active++;
    return r.endpoint;
  }

  /** Reports how an attempt on `ep` ended. Results for endpoints since removed only release their count. */
  onResult(ep: Endpoint, outcome: ResultOutcome, nowMs: number): void {
    if (ep.active > 0) ep.active--;
    if (outcome === "cancelled") {
      this.n.cancelled++;
      return;
    }
    this.n.rq++;
    ep.total++;
    if (isFailure(outcome)) ep.errors++;
    if (typeof outcome === "number") {
      if (outcome >= 500) this.n.s5xx++;
      else this.n.ok++;
    } else if (outcome === "connect-failure") this.n.connectFailure++;
    else if (outcome === "reset") this.n.reset++;
    else this.n.timeout++;
    if (this.outlier && this.byAddress.get(ep.address) === ep) this.outlier.onResult(ep, outcome, nowMs, this.hosts);
  }

  /**
   * Replaces the endpoint list (endpoints_file reload). Endpoints that stay
   * keep their state (in-flight count, ejection); new ones start fresh.
   * Throws ProxyError("invalid_config") on a bad address, changing nothing.
   */
  setEndpoints(list: readonly string[]): void {
    const addresses = toAddresses(list, `clusters.${this.name}.endpoints`);
    const next = new Map<string, Endpoint>();
    const hosts: Endpoint[] = [];
    for (const a of addresses) {
      const ep = this.byAddress.get(a.address) ?? new Endpoint(a);
      next.set(a.address, ep);
      hosts.push(ep);
    }
    this.byAddress = next;
    this.hosts = hosts;
    this.n.updates++;
  }

  /**
   * Decides on a retry for a failed attempt and, when yes, takes a unit of
   * the retry budget: call releaseRetry() when that retry attempt ends.
   */
  tryRetry(policy: RetryPolicy, method: string, outcome: AttemptOutcome, retriesDone: number, remainingMs?: number): RetryDecision {
    const b = this.breaker;
    const d = decideRetry({
      policy,
      method,
      outcome,
      retriesDone,
      budget: this.config.retry_budget,
      activeRequests: b.count("requests"),
      pendingRequests: b.count("pending"),
      activeRetries: b.count("retries"),
      random: this.random,
      remainingMs,
    });
    if (!d.retry) {
      if (d.reason === "budget") this.n.retryOverflow++;
      return d;
    }
    if (!b.tryAcquire("retries")) {
      this.n.retryOverflow++;
      return { retry: false, reason: "budget" };
    }
    this.n.retries++;
    return d;
  }

  releaseRetry(): void {
    this.breaker.release("retries");
  }

  timeouts(route?: { readonly timeoutMs?: number; readonly perTryTimeoutMs?: number }): ResolvedTimeouts {
    return resolveTimeouts(this.config, route);
  }

  /** A JSON-ready snapshot for /config_dump and /metrics. */
  stats(now = this.clock()): ClusterStats {
    const endpoints = this.hosts.map((e) => ({
      address: e.address,
      active: e.active,
      ejected: e.isEjected(now),
      ejected_until_ms: e.ejectedUntil,
      ejections: e.ejections,
      consecutive_5xx: e.consecutive5xx,
      results_total: e.total,
      errors_total: e.errors,
    }));
    const ejected = endpoints.filter((e) => e.ejected).length;
    const n = this.n;
    return {
      name: this.name,
      lb: this.config.lb,
      spiffe_id: this.spiffeId ?? null,
      membership_total: endpoints.length,
      membership_healthy: endpoints.length - ejected,
      ejections_active: ejected,
      ejections_total: this.outlier?.ejectionsTotal ?? 0,
      ejections_overflow: this.outlier?.ejectionsOverflow ?? 0,
      lb_panic_total: n.panic,
      no_endpoint_total: n.noEndpoint,
      rq_total: n.rq,
      rq_2xx_4xx: n.ok,
      rq_5xx: n.s5xx,
      connect_failure: n.connectFailure,
      reset: n.reset,
      timeout: n.timeout,
      cancelled: n.cancelled,
      retries_total: n.retries,
      retry_overflow: n.retryOverflow,
      endpoint_updates: n.updates,
      circuit_breakers: this.breaker.stats(),
      endpoints,
    };
  }
}
