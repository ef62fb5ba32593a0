/**
 * The compiled route table: first match wins, in config order. Everything
 * a request needs (matchers, weights, the retry policy) is built once here.
 */
import { compileRetryPolicy, type RetryPolicy } from "../cluster/retry.js";
import {
  compileHeaderMatcher,
  compilePathMatcher,
  headerMatches,
  HostMatcher,
  normalizeHost,
  pathMatches,
  type HeaderMatcher,
  type PathMatcher,
  type RequestHeaders,
} from "./matchers.js";
import type { RouteConfig } from "./schema.js";

export interface WeightedTarget {
  readonly cluster: string;
  readonly weight: number;
}

export class CompiledRoute {
  readonly name: string;
  /** Position in the config's routes list. */
  readonly index: number;
  readonly config: RouteConfig;
  /** A single `cluster:` is one target of weight 1. */
  readonly targets: readonly WeightedTarget[];
  readonly totalWeight: number;
  /** Undefined: use the cluster's; 0: no timeout. */
  readonly timeoutMs: number | undefined;
  readonly perTryTimeoutMs: number | undefined;
  readonly retryPolicy: RetryPolicy;
  readonly websocket: boolean;
  readonly prefixRewrite: string | undefined;

  private readonly hosts: HostMatcher | undefined;
  private readonly path: PathMatcher | undefined;
  private readonly methods: ReadonlySet<string> | undefined;
  private readonly headers: readonly HeaderMatcher[];
  /** Cumulative weights, same order as targets. */
  private readonly cumulative: readonly number[];

  constructor(config: RouteConfig, index: number) {
    this.name = config.name;
    this.index = index;
    this.config = config;
    this.targets = config.weighted_clusters
      ? config.weighted_clusters.map((w) => ({ cluster: w.cluster, weight: w.weight }))
      : [{ cluster: config.cluster!, weight: 1 }];
    let sum = 0;
    this.cumulative = this.targets.map((t) => (sum += t.weight));
    this.totalWeight = sum;
    this.timeoutMs = config.timeout;
    this.perTryTimeoutMs = config.per_try_timeout;
    this.retryPolicy = compileRetryPolicy(config.retries);
    this.websocket = config.websocket;
    this.prefixRewrite = config.prefix_rewrite;
    const m = config.match;
    this.hosts = m.hosts ? new HostMatcher(m.hosts) : undefined;
    this.path = m.path ? compilePathMatcher(m.path) : undefined;
    this.methods = m.methods ? new Set(m.methods) : undefined;
    this.headers = (m.headers ?? []).map(compileHeaderMatcher);
  }

  /** `host` normalized, `path` without its query string. Cheapest tests first. */
  matches(method: string, host: string, path: string, headers: RequestHeaders): boolean {
    if (this.methods && !this.methods.has(method)) return false;
    if (this.path && !pathMatches(this.path, path)) return false;
    if (this.hosts && !this.hosts.matches(host)) return false;
    for (const h of this.headers) if (!headerMatches(h, headers)) return false;
    return true;
  }

  /** Index into targets for a uniform draw r in [0, 1). */
  targetFor(r: number): WeightedTarget {
    const x = r * this.totalWeight;
    const c = this.cumulative;
    // Few targets in practice; a linear scan beats a binary search here.
    for (let i = 0; i < c.length; i++) if (x < c[i]!) return this.targets[i]!;
    // r == 1 (a bad random source): the last target with weight.
    for (let i = c.length - 1; i >= 0; i--) if (this.targets[i]!.weight > 0) return this.targets[i]!;
    return this.targets[this.targets.length - 1]!;
  }
}

export interface RouteTable {
  readonly routes: readonly CompiledRoute[];
  /** The first route that matches, or undefined (→ ProxyError "no_route"). `path` may carry a query string; it is ignored. */
  match(method: string, host: string, path: string, headers: RequestHeaders): CompiledRoute | undefined;
}

export function compileRoutes(config: readonly RouteConfig[]): RouteTable {
  const routes = config.map((r, i) => new CompiledRoute(r, i));
  return {
    routes,
    match(method, host, path, headers) {
      const q = path.indexOf("?");
      const p = q < 0 ? path : path.slice(0, q);
      const h = normalizeHost(host);
      for (const r of routes) if (r.matches(method, h, p, headers)) return r;
      return undefined;
    },
  };
}

/** The cluster for this request: the only one, or a weighted draw. `random` returns [0, 1). */
export function pickCluster(route: CompiledRoute, random: () => number): string {
  if (route.targets.length === 1) return route.targets[0]!.cluster;
  return route.targetFor(random()).cluster;
}

/**
 * The URL with the route's prefix_rewrite applied (unchanged without one).
 * An exact match swaps the whole path; a prefix match swaps the prefix, and
 * a "//" where the rewrite meets the rest is collapsed (Envoy would keep it:
 * prefix "/api" with rewrite "/" turns "/api/x" into "/x", not "//x").
 */
export function rewritePath(route: CompiledRoute, url: string): string {
  const rewrite = route.prefixRewrite;
  if (rewrite === undefined) return url;
  const q = url.indexOf("?");
  const path = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? "" : url.slice(q);
  const pm = route.config.match.path;
  if (pm?.exact !== undefined) return rewrite + query;
  const prefix = pm?.prefix ?? "/";
  if (!path.startsWith(prefix)) return url;
  let rest = path.slice(prefix.length);
  if (rewrite.endsWith("/") && rest.startsWith("/")) rest = rest.slice(1);
  return rewrite + rest + query;
}

/** Every route → cluster reference that names no cluster, as `routes[i].…: unknown cluster "x"`. */
export function checkRouteClusters(routes: readonly RouteConfig[], clusterNames: Iterable<string>): string[] {
  const known = new Set(clusterNames);
  const errors: string[] = [];
  routes.forEach((r, i) => {
    if (r.cluster !== undefined && !known.has(r.cluster)) errors.push(`routes[${i}].cluster: unknown cluster "${r.cluster}"`);
    r.weighted_clusters?.forEach((w, j) => {
      if (!known.has(w.cluster)) errors.push(`routes[${i}].weighted_clusters[${j}].cluster: unknown cluster "${w.cluster}"`);
    });
  });
  return errors;
}
