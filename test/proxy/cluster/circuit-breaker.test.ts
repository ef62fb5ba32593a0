import test from "ava";
import { CircuitBreaker } from "../../../proxy/cluster/circuit-breaker.js";
import { ProxyError } from "../../../proxy/errors.js";

const limits = { max_connections: 2, max_pending_requests: 1, max_requests: 3, retry_budget: { percent: 50, min_retry_concurrency: 1 } };

test("acquire up to the limit, overflow after, room again after release", (t) => {
  const b = new CircuitBreaker(limits, "backend");
  t.true(b.tryAcquire("requests"));
  t.true(b.tryAcquire("requests"));
  t.true(b.tryAcquire("requests"));
  t.false(b.tryAcquire("requests"));
  const err = t.throws(() => b.acquire("requests"));
  t.true(err instanceof ProxyError);
  t.is((err as ProxyError).code, "overflow");
  t.regex(err!.message, /cluster "backend": max_requests reached/);
  t.is(b.count("requests"), 3);
  t.is(b.stats().overflow.requests, 2);
  b.release("requests");
  t.notThrows(() => b.acquire("requests"));
  t.is(b.count("requests"), 3);
});

test("each resource has its own counter and limit", (t) => {
  const b = new CircuitBreaker(limits);
  t.true(b.tryAcquire("pending"));
  t.false(b.tryAcquire("pending"));
  t.true(b.tryAcquire("connections"));
  t.true(b.tryAcquire("connections"));
  t.false(b.tryAcquire("connections"));
  t.is(b.count("requests"), 0);
  const s = b.stats();
  t.deepEqual(s.active, { connections: 2, pending: 1, requests: 0, retries: 0 });
  t.deepEqual(s.overflow, { connections: 1, pending: 1, requests: 0, retries: 0 });
});

test("release never goes below zero", (t) => {
  const b = new CircuitBreaker(limits);
  b.release("requests");
  b.release("requests");
  t.is(b.count("requests"), 0);
  t.true(b.tryAcquire("requests"));
  t.is(b.count("requests"), 1);
});

test("the retry limit follows the budget: max(min, percent × (active + pending))", (t) => {
  const b = new CircuitBreaker({ ...limits, max_requests: 100, max_pending_requests: 100 });
  t.is(b.limit("retries"), 1, "idle: min_retry_concurrency");
  for (let i = 0; i < 6; i++) b.acquire("requests");
  b.acquire("pending");
  b.acquire("pending");
  t.is(b.limit("retries"), 4, "50% of 8");
  for (let i = 0; i < 4; i++) t.true(b.tryAcquire("retries"));
  t.false(b.tryAcquire("retries"));
  t.is(b.stats().overflow.retries, 1);
});
