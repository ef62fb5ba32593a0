import test from "ava";
import {
  backoffDelayMs,
  compileRetryPolicy,
  decideRetry,
  isIdempotentMethod,
  outcomeRetriable,
  retryBudgetLimit,
  retryPolicySchema,
  type RetryInput,
} from "../../../proxy/cluster/retry.js";

const policy = (raw: Record<string, unknown>) => compileRetryPolicy(retryPolicySchema.parse(raw));
const budget = { percent: 20, min_retry_concurrency: 3 };
const input = (over: Partial<RetryInput> = {}): RetryInput => ({
  policy: policy({ attempts: 2, on: ["5xx"] }),
  method: "GET",
  outcome: 503,
  retriesDone: 0,
  budget,
  activeRequests: 1,
  pendingRequests: 0,
  activeRetries: 0,
  random: () => 0.5,
  ...over,
});

test("only idempotent methods are retried", (t) => {
  for (const m of ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]) t.true(isIdempotentMethod(m), m);
  for (const m of ["POST", "PATCH", "CONNECT", "get"]) t.false(isIdempotentMethod(m), m);
  t.deepEqual(decideRetry(input({ method: "POST" })), { retry: false, reason: "method" });
  t.deepEqual(decideRetry(input({ method: "PATCH", outcome: "connect-failure", policy: policy({ on: ["connect-failure"] }) })), { retry: false, reason: "method" });
  t.true(decideRetry(input({ method: "PUT" })).retry);
});

test("retry_on conditions map outcomes as Envoy does", (t) => {
  const p5xx = policy({ on: ["5xx"] });
  t.true(outcomeRetriable(p5xx, 500));
  t.true(outcomeRetriable(p5xx, 599));
  t.false(outcomeRetriable(p5xx, 429));
  t.false(outcomeRetriable(p5xx, 200));
  t.true(outcomeRetriable(p5xx, "connect-failure"));
  t.true(outcomeRetriable(p5xx, "reset"));
  t.true(outcomeRetriable(p5xx, "timeout"));
  const gw = policy({ on: ["gateway-error"] });
  t.true(outcomeRetriable(gw, 502));
  t.true(outcomeRetriable(gw, 503));
  t.true(outcomeRetriable(gw, 504));
  t.false(outcomeRetriable(gw, 500));
  t.true(outcomeRetriable(gw, "timeout"));
  const cf = policy({ on: ["connect-failure"] });
  t.true(outcomeRetriable(cf, "connect-failure"));
  t.false(outcomeRetriable(cf, "reset"));
  t.false(outcomeRetriable(cf, "timeout"));
  t.false(outcomeRetriable(cf, 503));
  const reset = policy({ on: ["reset"] });
  t.true(outcomeRetriable(reset, "reset"));
  t.true(outcomeRetriable(reset, "connect-failure"));
  t.false(outcomeRetriable(reset, 500));
  const codes = policy({ on: ["retriable-status-codes"], statuses: [409, 503] });
  t.true(outcomeRetriable(codes, 409));
  t.true(outcomeRetriable(codes, 503));
  t.false(outcomeRetriable(codes, 502));
  const off = policy({ on: ["5xx"], statuses: [409] });
  t.false(outcomeRetriable(off, 409), "statuses apply only with retriable-status-codes");
  t.deepEqual(decideRetry(input({ outcome: 404 })), { retry: false, reason: "not_retriable" });
});

test("attempts are counted", (t) => {
  t.true(decideRetry(input({ retriesDone: 0 })).retry);
  t.true(decideRetry(input({ retriesDone: 1 })).retry);
  t.deepEqual(decideRetry(input({ retriesDone: 2 })), { retry: false, reason: "attempts" });
  t.deepEqual(decideRetry(input({ policy: policy({ attempts: 0, on: ["5xx"] }) })), { retry: false, reason: "attempts" });
});

test("the retry budget: max(min_retry_concurrency, percent × active)", (t) => {
  t.is(retryBudgetLimit(budget, 0, 0), 3);
  t.is(retryBudgetLimit(budget, 100, 0), 20);
  t.is(retryBudgetLimit(budget, 90, 10), 20);
  t.is(retryBudgetLimit(budget, 14, 0), 3);
  t.true(decideRetry(input({ activeRequests: 100, activeRetries: 19 })).retry);
  t.deepEqual(decideRetry(input({ activeRequests: 100, activeRetries: 20 })), { retry: false, reason: "budget" });
  t.deepEqual(decideRetry(input({ activeRequests: 5, activeRetries: 3 })), { retry: false, reason: "budget" });
  t.true(decideRetry(input({ activeRequests: 5, activeRetries: 2 })).retry);
});

test("back-off: fully jittered exponential, 25 ms base, 250 ms cap", (t) => {
  t.is(backoffDelayMs(1, () => 0), 0);
  t.is(backoffDelayMs(1, () => 0.5), 12);
  t.true(backoffDelayMs(1, () => 0.9999999) < 25);
  t.is(backoffDelayMs(2, () => 0.5), 37, "[0, 75)");
  t.is(backoffDelayMs(3, () => 0.5), 87, "[0, 175)");
  t.is(backoffDelayMs(4, () => 0.5), 125, "(2^4-1)*25 = 375 capped to 250");
  t.true(backoffDelayMs(30, () => 0.9999999) < 250);
  t.is(backoffDelayMs(1, () => 5), 24, "a bad random source stays in range");
  t.deepEqual(decideRetry(input({ retriesDone: 1, random: () => 0.5 })), { retry: true, delayMs: 37 });
});

test("no retry when the back-off would outlast the total timeout", (t) => {
  t.deepEqual(decideRetry(input({ remainingMs: 10 })), { retry: false, reason: "deadline" });
  t.deepEqual(decideRetry(input({ remainingMs: 13 })), { retry: true, delayMs: 12 });
});

test("schema: bounded attempts, known conditions, statuses in range", (t) => {
  t.false(retryPolicySchema.safeParse({ attempts: 11 }).success);
  t.false(retryPolicySchema.safeParse({ on: ["everything"] }).success);
  t.false(retryPolicySchema.safeParse({ statuses: [600] }).success);
  t.false(retryPolicySchema.safeParse({ extra: 1 }).success);
});
