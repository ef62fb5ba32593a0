import test from "ava";
import { Cluster, resolveTimeouts } from "../../../proxy/cluster/cluster.js";
import { compileRetryPolicy, retryPolicySchema } from "../../../proxy/cluster/retry.js";
import { clusterSchema, type ClusterConfigInput } from "../../../proxy/cluster/schema.js";
import { ProxyError } from "../../../proxy/errors.js";

const make = (over: Partial<ClusterConfigInput> = {}, opts: ConstructorParameters<typeof Cluster>[1] = {}) =>
  new Cluster(clusterSchema.parse({ name: "backend", endpoints: ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"], ...over }), { clock: () => 0, ...opts });

test("pick round-robins and tracks in-flight requests until onResult", (t) => {
  const c = make();
  const a = c.pick()!;
  const b = c.pick()!;
  t.deepEqual([a.address, b.address], ["10.0.0.1:80", "10.0.0.2:80"]);
  t.is(a.active, 1);
  c.onResult(a, 200, 0);
  t.is(a.active, 0);
  c.onResult(b, "cancelled", 0);
  t.is(b.active, 0);
  const s = c.stats();
  t.is(s.rq_total, 1, "cancelled is not a result held against the endpoint");
  t.is(s.cancelled, 1);
  t.is(s.rq_2xx_4xx, 1);
});

test("least_request: the busy endpoint loses", (t) => {
  const c = make({ lb: "least_request", endpoints: ["10.0.0.1:80", "10.0.0.2:80"] }, { random: Math.random });
  const first = c.pick()!;
  for (let i = 0; i < 20; i++) {
    const e = c.pick()!;
    t.not(e, first, "the one with a request in flight is never chosen over the idle one");
    c.onResult(e, 200, 0);
  }
});

test("outlier ejection and return, with a fake clock", (t) => {
  let now = 1_000_000;
  const c = make({ outlier_detection: { consecutive_5xx: 2, base_ejection_time: "30s", max_ejection_percent: 50 } }, { clock: () => now });
  const bad = c.endpoints()[0]!;
  for (let i = 0; i < 2; i++) {
    bad.active++;
    c.onResult(bad, 503, now);
  }
  t.true(bad.isEjected(now));
  const picks = Array.from({ length: 6 }, () => c.pick()!);
  t.false(picks.includes(bad), "ejected endpoint gets no traffic");
  for (const p of picks) c.onResult(p, 200, now);
  let s = c.stats();
  t.is(s.ejections_active, 1);
  t.is(s.membership_healthy, 2);
  t.is(s.ejections_total, 1);
  now += 30_000;
  const back = Array.from({ length: 3 }, () => c.pick()!);
  t.true(back.includes(bad), "back after base_ejection_time");
  s = c.stats();
  t.is(s.ejections_active, 0);
});

test("a lone ejected endpoint still gets traffic (panic), counted in stats", (t) => {
  const c = make({ endpoints: ["10.0.0.1:80"], outlier_detection: { consecutive_5xx: 1 } });
  const e = c.pick()!;
  c.onResult(e, 500, 0);
  t.true(e.isEjected(1));
  t.is(c.pick({ now: 1 }), e);
  t.is(c.stats(1).lb_panic_total, 1);
});

test("without outlier_detection nothing is ejected", (t) => {
  const c = make();
  const e = c.endpoints()[0]!;
  for (let i = 0; i < 50; i++) c.onResult(e, 503, 0);
  t.false(e.isEjected(0));
  t.is(c.stats().rq_5xx, 50);
});

test("avoid: a retry goes to another endpoint when there is one", (t) => {
  const c = make({ lb: "least_request", endpoints: ["10.0.0.1:80", "10.0.0.2:80"] }, { random: () => 0 });
  const first = c.pick()!;
  c.onResult(first, 503, 0);
  t.not(c.pick({ avoid: first }), first);
});

test("setEndpoints keeps the state of endpoints that stay", (t) => {
  const c = make({ outlier_detection: { consecutive_5xx: 1, max_ejection_percent: 100 } });
  const [e1, e2] = c.endpoints();
  e2!.active = 4;
  c.onResult(e1!, 500, 0);
  t.true(e1!.isEjected(0));
  c.setEndpoints(["10.0.0.2:80", "10.0.0.1:80", "10.0.0.9:80"]);
  const after = c.endpoints();
  t.deepEqual(after.map((e) => e.address), ["10.0.0.2:80", "10.0.0.1:80", "10.0.0.9:80"]);
  t.is(after[0], e2, "same object");
  t.is(after[0]!.active, 4);
  t.is(after[1], e1);
  t.true(after[1]!.isEjected(0), "still ejected");
  t.is(after[2]!.active, 0);
  t.is(c.stats().endpoint_updates, 1);
});

test("a removed endpoint's late result only releases its count", (t) => {
  const c = make({ outlier_detection: { consecutive_5xx: 1, max_ejection_percent: 100 } });
  const e = c.pick()!;
  c.setEndpoints(["10.0.0.2:80"]);
  c.onResult(e, 500, 0);
  t.is(e.active, 0);
  t.false(e.isEjected(0));
  t.is(c.stats().ejections_total, 0);
});

test("setEndpoints rejects a bad list and changes nothing", (t) => {
  const c = make();
  const err = t.throws(() => c.setEndpoints(["10.0.0.1:80", "nope"]));
  t.true(err instanceof ProxyError);
  t.regex(err!.message, /endpoints\[1\]: expected HOST:PORT/);
  t.is(c.endpoints().length, 3);
  c.setEndpoints([]);
  t.is(c.pick(), undefined, "no endpoints: undefined, for a 503 no_healthy_upstream");
  t.is(c.stats().no_endpoint_total, 1);
});

test("endpoints_file clusters need the loaded list", (t) => {
  const cfg = clusterSchema.parse({ name: "f", endpoints_file: "eps.txt" });
  t.throws(() => new Cluster(cfg), { instanceOf: ProxyError, message: /endpoints_file given but no endpoints loaded/ });
  t.is(new Cluster(cfg, { endpoints: ["10.0.0.1:1"] }).endpoints().length, 1);
});

test("tryRetry takes and releases a unit of the retry budget", (t) => {
  const c = make({ retry_budget: { percent: 0, min_retry_concurrency: 1 } }, { random: () => 0 });
  const policy = compileRetryPolicy(retryPolicySchema.parse({ attempts: 3, on: ["5xx"] }));
  t.deepEqual(c.tryRetry(policy, "GET", 503, 0), { retry: true, delayMs: 0 });
  t.is(c.breaker.count("retries"), 1);
  t.deepEqual(c.tryRetry(policy, "GET", 503, 0), { retry: false, reason: "budget" });
  t.is(c.stats().retry_overflow, 1);
  c.releaseRetry();
  t.true(c.tryRetry(policy, "GET", 503, 1).retry);
  t.deepEqual(c.tryRetry(policy, "POST", 503, 0), { retry: false, reason: "method" });
  t.is(c.stats().retries_total, 2);
});

test("circuit breakers come from the config and overflow with ProxyError", (t) => {
  const c = make({ max_requests: 1 });
  c.breaker.acquire("requests");
  t.throws(() => c.breaker.acquire("requests"), { instanceOf: ProxyError, message: /max_requests/ });
  t.is(c.stats().circuit_breakers.overflow.requests, 1);
});

test("timeouts: the route's override the cluster's; per-try never above the total", (t) => {
  const cfg = clusterSchema.parse({ name: "b", endpoints: ["10.0.0.1:80"], connect_timeout: "1s", timeout: "15s", per_try_timeout: "5s" });
  t.deepEqual(resolveTimeouts(cfg), { connectTimeoutMs: 1000, timeoutMs: 15_000, perTryTimeoutMs: 5000 });
  t.deepEqual(resolveTimeouts(cfg, { timeoutMs: 2000, perTryTimeoutMs: undefined }), { connectTimeoutMs: 1000, timeoutMs: 2000, perTryTimeoutMs: 2000 });
  t.deepEqual(resolveTimeouts(cfg, { timeoutMs: 0, perTryTimeoutMs: 100 }), { connectTimeoutMs: 1000, timeoutMs: 0, perTryTimeoutMs: 100 });
});

test("stats are JSON-ready and describe every endpoint", (t) => {
  const c = make({ spiffe_id: "spiffe://demo.mesh/ns/demo/sa/backend" });
  const s = c.stats();
  t.is(s.spiffe_id, "spiffe://demo.mesh/ns/demo/sa/backend");
  t.is(s.membership_total, 3);
  t.deepEqual(s.endpoints[0], { address: "10.0.0.1:80", active: 0, ejected: false, ejected_until_ms: 0, ejections: 0, consecutive_5xx: 0, results_total: 0, errors_total: 0 });
  t.deepEqual(JSON.parse(JSON.stringify(s)), s);
});
