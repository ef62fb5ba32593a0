/**
 * Envoy's circuit breakers for one cluster: counters for connections,
 * pending requests, requests and retries, each with a limit. Retries are
 * limited by the retry budget, which moves with the load.
 */
import { ProxyError } from "../errors.js";
import { retryBudgetLimit, type RetryBudget } from "./retry.js";

export type BreakerResource = "connections" | "pending" | "requests" | "retries";

export interface BreakerLimits {
  readonly max_connections: number;
  readonly max_pending_requests: number;
  readonly max_requests: number;
  readonly retry_budget: RetryBudget;
}

const KEY: Readonly<Record<BreakerResource, string>> = {
  connections: "max_connections",
  pending: "max_pending_requests",
  requests: "max_requests",
  retries: "retry_budget",
};

export interface BreakerStats {
  readonly active: Readonly<Record<BreakerResource, number>>;
  readonly limit: Readonly<Record<BreakerResource, number>>;
  /** Acquisitions refused, per resource (Envoy's upstream_cx_overflow, upstream_rq_pending_overflow, …). */
  readonly overflow: Readonly<Record<BreakerResource, number>>;
}

export class CircuitBreaker {
  private readonly active: Record<BreakerResource, number> = { connections: 0, pending: 0, requests: 0, retries: 0 };
  private readonly overflow: Record<BreakerResource, number> = { connections: 0, pending: 0, requests: 0, retries: 0 };

  constructor(
    private readonly limits: BreakerLimits,
    private readonly clusterName = "",
  ) {}

  limit(r: BreakerResource): number {
    switch (r) {
      case "connections":
        return this.limits.max_connections;
      case "pending":
        return this.limits.max_pending_requests;
      case "requests":
        return this.limits.max_requests;
      case "retries":
        return retryBudgetLimit(this.limits.retry_budget, this.active.requests, this.active.pending);
    }
  }

  count(r: BreakerResource): number {
    return this.active[r];
  }

  /** Takes one unit of `r` when under its limit; false (and an overflow counted) otherwise. */
  tryAcquire(r: BreakerResource): boolean {
    if (this.active[r] >= this.limit(r)) {
      this.overflow[r]++;
      return false;
    }
    this.active[r]++;
    return true;
  }

  /** As tryAcquire, but throws ProxyError("overflow") when the breaker is open. */
  acquire(r: BreakerResource): void {
    if (!this.tryAcquire(r)) {
      const who = this.clusterName ? `cluster "${this.clusterName}": ` : "";
      throw new ProxyError("overflow", `${who}${KEY[r]} reached (${this.limit(r)} ${r} active)`);
    }
  }

  /** Gives back one unit; never goes below zero (a double release is a caller bug, not a reason to crash). */
  release(r: BreakerResource): void {
    if (this.active[r] > 0) this.active[r]--;
  }

  stats(): BreakerStats {
    return {
      active: { ...this.active },
      limit: { connections: this.limit("connections"), pending: this.limit("pending"), requests: this.limit("requests"), retries: this.limit("retries") },
      overflow: { ...this.overflow },
    };
  }
}
