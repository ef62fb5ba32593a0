/**
 * Load balancers. Both skip ejected endpoints, and the endpoint to avoid
 * (where a retried attempt just failed) unless it is the only one left.
 * When every endpoint is ejected they fall back to all of them ("panic", as
 * Envoy does below its panic threshold): a cluster whose only endpoint had a
 * bad minute should get traffic again rather than answer 503 for the whole
 * ejection time. They return undefined only for an empty endpoint list.
 */
import type { Endpoint } from "./endpoint.js";

export type LbPolicy = "round_robin" | "least_request";

export interface PickResult {
  readonly endpoint: Endpoint;
  /** True when every endpoint was ejected and one was picked anyway. */
  readonly panic: boolean;
}

export interface LoadBalancer {
  pick(hosts: readonly Endpoint[], now: number, avoid?: Endpoint): PickResult | undefined;
}

export class RoundRobin implements LoadBalancer {
  private next = 0;

  pick(hosts: readonly Endpoint[], now: number, avoid?: Endpoint): PickResult | undefined {
    const n = hosts.length;
    if (n === 0) return undefined;
    const start = this.next % n;
    for (let k = 0; k < n; k++) {
      const i = (start + k) % n;
      const ep = hosts[i]!;
      if (ep !== avoid && !ep.isEjected(now)) {
        this.next = i + 1;
        return { endpoint: ep, panic: false };
      }
    }
    if (avoid && !avoid.isEjected(now) && hosts.includes(avoid)) return { endpoint: avoid, panic: false };
    this.next = start + 1;
    return { endpoint: hosts[start]!, panic: true };
  }
}

/**
 * Least request by the power of two choices: two distinct random eligible
 * endpoints, the one with fewer requests in flight wins (the first on a tie).
 */
export class LeastRequest implements LoadBalancer {
  constructor(private readonly random: () => number) {}

  pick(hosts: readonly Endpoint[], now: number, avoid?: Endpoint): PickResult | undefined {
    const n = hosts.length;
    if (n === 0) return undefined;
    let eligible = 0;
    for (const h of hosts) if (h !== avoid && !h.isEjected(now)) eligible++;
    if (eligible === 0 && avoid && !avoid.isEjected(now) && hosts.includes(avoid)) return { endpoint: avoid, panic: false };
    const panic = eligible === 0;
    // Every endpoint eligible (the usual case) or none (panic): index directly, no scan.
    const all = panic || eligible === n;
    const count = all ? n : eligible;
    if (count === 1) return { endpoint: this.nth(hosts, 0, now, all, avoid), panic };
    const a = this.draw(count);
    // A second draw among the remaining count-1, shifted past the first: always distinct.
    let b = this.draw(count - 1);
    if (b >= a) b++;
    const ea = this.nth(hosts, a, now, all, avoid);
    const eb = this.nth(hosts, b, now, all, avoid);
    return { endpoint: eb.active < ea.active ? eb : ea, panic };
  }

  private draw(n: number): number {
    const r = this.random();
    return Math.min(n - 1, Math.max(0, Math.floor(r * n)));
  }

  /** The k-th eligible endpoint (or simply the k-th when `all` count). */
  private nth(hosts: readonly Endpoint[], k: number, now: number, all: boolean, avoid: Endpoint | undefined): Endpoint {
    if (all) return hosts[k]!;
    for (const h of hosts) {
      if (h === avoid || h.isEjected(now)) continue;
      if (k === 0) return h;
      k--;
    }
    return hosts[hosts.length - 1]!;
  }
}

export function createLoadBalancer(policy: LbPolicy, random: () => number): LoadBalancer {
  return policy === "least_request" ? new LeastRequest(random) : new RoundRobin();
}
