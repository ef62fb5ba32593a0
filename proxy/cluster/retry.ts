/**
 * Whether a finished upstream attempt should be retried, and after how long.
 * Pure: the caller owns the timer and the retry counter in the circuit
 * breaker (see Cluster.tryRetry). Semantics follow Envoy's retry policy,
 * limited to idempotent methods so a request with side effects is never sent
 * twice.
 */
import { z } from "zod";

export const RETRY_ON = ["5xx", "gateway-error", "connect-failure", "reset", "retriable-status-codes"] as const;
export type RetryOn = (typeof RETRY_ON)[number];

/** What an attempt ended with: the upstream's status, or why there was none. */
export type AttemptOutcome = number | "connect-failure" | "reset" | "timeout";

export const MAX_RETRY_ATTEMPTS = 10;

/** `retries:` on a route. Defaults follow Istio's: 2 attempts on connect failures and 503. */
export const retryPolicySchema = z
  .object({
    attempts: z.number().int().min(0).max(MAX_RETRY_ATTEMPTS).default(2),
    on: z.array(z.enum(RETRY_ON)).max(RETRY_ON.length).default(["connect-failure", "retriable-status-codes"]),
    statuses: z.array(z.number().int().min(100).max(599)).max(32).default([503]),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.on.includes("retriable-status-codes") && p.statuses.length === 0) {
      ctx.addIssue({ code: "custom", path: ["statuses"], message: "retriable-status-codes needs at least one status" });
    }
  });

export type RetryPolicyConfig = z.output<typeof retryPolicySchema>;

export const DEFAULT_RETRY_POLICY_CONFIG: RetryPolicyConfig = { attempts: 2, on: ["connect-failure", "retriable-status-codes"], statuses: [503] };

/** A retry policy in the shape the hot path reads. */
export interface RetryPolicy {
  /** Retries after the first attempt (0 = never retry). */
  readonly attempts: number;
  readonly on: ReadonlySet<RetryOn>;
  readonly statuses: ReadonlySet<number>;
}

export function compileRetryPolicy(c: RetryPolicyConfig): RetryPolicy {
  return { attempts: c.attempts, on: new Set(c.on), statuses: new Set(c.statuses) };
}

/** `retry_budget:` on a cluster (Envoy's defaults: 20%, at least 3). */
export interface RetryBudget {
  /** Share of active requests (in flight plus pending) that may be retries, 0–100. */
  readonly percent: number;
  /** Retries always allowed concurrently, however few requests are active. */
  readonly min_retry_concurrency: number;
}

const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]);

export function isIdempotentMethod(method: string): boolean {
  return IDEMPOTENT.has(method);
}

/** Whether the policy's `on` conditions cover this outcome (method and budget aside). */
export function outcomeRetriable(policy: RetryPolicy, outcome: AttemptOutcome): boolean {
  const on = policy.on;
  if (typeof outcome === "number") {
    if (on.has("retriable-status-codes") && policy.statuses.has(outcome)) return true;
    if (on.has("5xx") && outcome >= 500 && outcome <= 599) return true;
    return on.has("gateway-error") && (outcome === 502 || outcome === 503 || outcome === 504);
  }
  // No response at all: 5xx, gateway-error and reset cover every kind; connect-failure only its own.
  if (on.has("5xx") || on.has("gateway-error") || on.has("reset")) return true;
  return outcome === "connect-failure" && on.has("connect-failure");
}

/** The most retries that may be in flight at once: max(min_retry_concurrency, percent × active). */
export function retryBudgetLimit(budget: RetryBudget, activeRequests: number, pendingRequests: number): number {
  return Math.max(budget.min_retry_concurrency, Math.floor((budget.percent / 100) * (activeRequests + pendingRequests)));
}

export const BACKOFF_BASE_MS = 25;
export const BACKOFF_MAX_MS = 250;

/**
 * Envoy's fully jittered exponential back-off: retry n (1-based) waits a
 * random time in [0, min((2^n − 1) × base, max)).
 */
export function backoffDelayMs(retry: number, random: () => number, baseMs = BACKOFF_BASE_MS, maxMs = BACKOFF_MAX_MS): number {
  const n = Math.min(Math.max(retry, 1), 30);
  const ceiling = Math.min((2 ** n - 1) * baseMs, maxMs);
  return Math.floor(Math.min(Math.max(random(), 0), 0.999999) * ceiling);
}

export interface RetryInput {
  readonly policy: RetryPolicy;
  readonly method: string;
  readonly outcome: AttemptOutcome;
  /** Retries already made for this request (0 after the first attempt). */
  readonly retriesDone: number;
  readonly budget: RetryBudget;
  /** Requests in flight and pending on the cluster, and retries in flight (this request's next one not included). */
  readonly activeRequests: number;
  readonly pendingRequests: number;
  readonly activeRetries: number;
  readonly random: () => number;
  /** Time left before the route's total timeout, when there is one. */
  readonly remainingMs?: number;
}

export type RetryReason = "not_retriable" | "method" | "attempts" | "budget" | "deadline";
export type RetryDecision = { readonly retry: true; readonly delayMs: number } | { readonly retry: false; readonly reason: RetryReason };

/** Decides in the order a reader expects: outcome, method, attempts left, budget, time left. */
export function decideRetry(input: RetryInput): RetryDecision {
  if (!outcomeRetriable(input.policy, input.outcome)) return { retry: false, reason: "not_retriable" };
  if (!isIdempotentMethod(input.method)) return { retry: false, reason: "method" };
  if (input.retriesDone >= input.policy.attempts) return { retry: false, reason: "attempts" };
  if (input.activeRetries >= retryBudgetLimit(input.budget, input.activeRequests, input.pendingRequests)) {
    return { retry: false, reason: "budget" };
  }
  const delayMs = backoffDelayMs(input.retriesDone + 1, input.random);
  if (input.remainingMs !== undefined && delayMs >= input.remainingMs) return { retry: false, reason: "deadline" };
  return { retry: true, delayMs };
}
