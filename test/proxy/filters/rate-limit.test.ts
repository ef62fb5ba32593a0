import test from "ava";
import { rateLimitFilter } from "../../../proxy/filters/rate-limit.js";
import { KeyedTokenBuckets } from "../../../proxy/filters/token-bucket.js";
import type { HttpFilter } from "../../../proxy/filters/types.js";
import { FakeClock, build, decide, deps, issues, peer, request, type RequestInit } from "./fixtures.js";

function limiter(buckets: unknown[]): { f: HttpFilter; clock: FakeClock } {
  const clock = new FakeClock();
  return { f: build(rateLimitFilter, { buckets }, deps(clock)), clock };
}

/** How many of n requests go through right now. */
function admitted(f: HttpFilter, n: number, init: RequestInit = {}): number {
  let ok = 0;
  for (let i = 0; i < n; i++) if (decide(f, request(init)) === undefined) ok++;
  return ok;
}

test("burst requests go through at once, the next is refused with 429", (t) => {
  const { f } = limiter([{ name: "api", requests_per_second: 10, burst: 5 }]);
  t.is(admitted(f, 5), 5);
  const d = decide(f, request());
  t.like(d, { status: 429, code: "rate_limited", outcome: "deny", reason: 'rate limit "api" exceeded' });
  t.deepEqual(d?.details, { bucket: "api", key: "global" });
  t.like(d?.headers, { "retry-after": "1", "x-ratelimit-limit": "5", "x-ratelimit-remaining": "0" });
});

test("tokens refill at requests_per_second, never above burst", (t) => {
  const { f, clock } = limiter([{ name: "api", requests_per_second: 10, burst: 5 }]);
  t.is(admitted(f, 10), 5);
  clock.advance(100); // one token
  t.is(admitted(f, 3), 1);
  clock.advance(250); // two and a half
  t.is(admitted(f, 3), 2);
  clock.advance(50); // the half becomes a whole
  t.is(admitted(f, 3), 1);
  clock.advance(60_000); // capped at burst
  t.is(admitted(f, 10), 5);
});

test("burst defaults to requests_per_second rounded up", (t) => {
  const { f } = limiter([{ name: "api", requests_per_second: 2.5 }]);
  t.is(admitted(f, 10), 3);
});

test("Retry-After is whole seconds, rounded up, at least 1", (t) => {
  const slow = limiter([{ name: "slow", requests_per_second: 0.1, burst: 1 }]);
  t.is(admitted(slow.f, 1), 1);
  t.is(decide(slow.f, request())?.headers?.["retry-after"], "10");
  slow.clock.advance(2_500);
  t.is(decide(slow.f, request())?.headers?.["retry-after"], "8"); // 7.5 s left
  slow.clock.advance(7_500);
  t.is(admitted(slow.f, 1), 1);
  const fast = limiter([{ name: "fast", requests_per_second: 1000, burst: 1 }]);
  t.is(admitted(fast.f, 1), 1);
  t.is(decide(fast.f, request())?.headers?.["retry-after"], "1");
});

test("a refused request takes no token from the other buckets", (t) => {
  const { f, clock } = limiter([
    { name: "roomy", requests_per_second: 0.001, burst: 3 },
    { name: "tight", requests_per_second: 1, burst: 1 },
  ]);
  t.is(admitted(f, 1), 1); // roomy 2 left, tight 0
  t.like(decide(f, request()), { reason: 'rate limit "tight" exceeded' });
  t.like(decide(f, request()), { code: "rate_limited" });
  clock.advance(1000); // tight 1; roomy still 2 (it refills once in 1000 s)
  t.is(admitted(f, 1), 1, "roomy was not drained by the refused requests");
  clock.advance(1000);
  t.is(admitted(f, 1), 1);
  clock.advance(1000);
  t.like(decide(f, request()), { reason: 'rate limit "roomy" exceeded' });
});

test("Retry-After names the longest wait of the empty buckets", (t) => {
  const { f } = limiter([
    { name: "a", requests_per_second: 1, burst: 1 },
    { name: "b", requests_per_second: 0.25, burst: 1 },
  ]);
  t.is(admitted(f, 1), 1);
  const d = decide(f, request());
  t.is(d?.headers?.["retry-after"], "4");
  t.like(d?.details, { bucket: "b" });
});

test("one bucket per key value: peers, addresses, headers and routes are isolated", (t) => {
  const byPeer = limiter([{ name: "p", requests_per_second: 1, burst: 2, key: "peer" }]).f;
  const a = { peer: peer("demo.mesh/ns/demo/sa/a") };
  const b = { peer: peer("demo.mesh/ns/demo/sa/b") };
  t.is(admitted(byPeer, 5, a), 2);
  t.is(admitted(byPeer, 5, b), 2);
  t.is(admitted(byPeer, 5), 2, "requests without a peer share one bucket");
  t.is(admitted(byPeer, 1, a), 0);

  const byAddr = limiter([{ name: "ip", requests_per_second: 1, burst: 1, key: "remote_address" }]).f;
  t.is(admitted(byAddr, 3, { remoteAddress: "10.0.0.1" }), 1);
  t.is(admitted(byAddr, 3, { remoteAddress: "::ffff:10.0.0.1" }), 0, "IPv4-mapped is the same client");
  t.is(admitted(byAddr, 3, { remoteAddress: "10.0.0.2" }), 1);

  const byHeader = limiter([{ name: "h", requests_per_second: 1, burst: 1, key: "header:X-Api-Key" }]).f;
  t.is(admitted(byHeader, 3, { headers: { "x-api-key": "k1" } }), 1);
  t.is(admitted(byHeader, 3, { headers: { "x-api-key": "k2" } }), 1);
  t.is(admitted(byHeader, 3, { headers: { "x-api-key": "k" + "x".repeat(5000) } }), 1, "long values are hashed, still one key");
  const d = decide(byHeader, request({ headers: { "x-api-key": "k1" } }));
  t.false(JSON.stringify(d).includes("k1"), "the key value (maybe a credential) is not in the denial");

  const byRoute = limiter([{ name: "r", requests_per_second: 1, burst: 1, key: "route" }]).f;
  t.is(admitted(byRoute, 3, { route: "api" }), 1);
  t.is(admitted(byRoute, 3, { route: "web" }), 1);
});

test("routes scope a bucket; buckets without routes apply everywhere", (t) => {
  const { f } = limiter([
    { name: "api-only", routes: ["api"], requests_per_second: 1, burst: 1 },
    { name: "all", requests_per_second: 1, burst: 3 },
  ]);
  t.is(admitted(f, 5, { route: "api" }), 1);
  t.is(admitted(f, 5, { route: "web" }), 2, "web draws on 'all' (2 tokens left after api) but not on 'api-only'");
  t.like(decide(f, request({ route: "api" })), { code: "rate_limited" });
  const scoped = limiter([{ name: "api-only", routes: ["api", "admin"], requests_per_second: 1, burst: 1 }]).f;
  t.is(admitted(scoped, 5, { route: "web" }), 5, "no bucket applies to web");
  t.is(admitted(scoped, 5, { route: "" }), 5, "nor to an unmatched route");
  t.is(admitted(scoped, 5, { route: "admin" }), 1);
});

test("max_keys bounds tracked keys; the least recently used key is dropped", (t) => {
  const { f } = limiter([{ name: "p", requests_per_second: 1, burst: 1, key: "header:x-user", max_keys: 2 }]);
  const as = (u: string) => ({ headers: { "x-user": u } });
  t.is(admitted(f, 1, as("a")), 1);
  t.is(admitted(f, 1, as("b")), 1);
  t.is(admitted(f, 1, as("a")), 0, "a is empty and now most recently used");
  t.is(admitted(f, 1, as("c")), 1, "c evicts b, the least recently used");
  t.is(admitted(f, 1, as("a")), 0, "a was kept");
  t.is(admitted(f, 1, as("b")), 1, "b was forgotten, so it starts full (and evicts c)");
  t.is(admitted(f, 1, as("c")), 1, "c was forgotten too");
});

test("KeyedTokenBuckets keeps at most maxKeys keys", (t) => {
  const b = new KeyedTokenBuckets({ ratePerSecond: 1, burst: 1, maxKeys: 100 });
  for (let i = 0; i < 10_000; i++) b.tryTake(`k${i}`, 0);
  t.is(b.size, 100);
  t.true(b.has("k9999"));
  t.false(b.has("k0"));
});

test("KeyedTokenBuckets: a clock stepping back adds no tokens", (t) => {
  const b = new KeyedTokenBuckets({ ratePerSecond: 1, burst: 1, maxKeys: 10 });
  t.is(b.tryTake("k", 10_000), 0);
  t.true(b.tryTake("k", 5_000) > 0);
  t.true(b.tryTake("k", 10_500) > 0, "stepping back did not move the refill point back");
  t.is(b.tryTake("k", 11_000), 0);
  t.throws(() => new KeyedTokenBuckets({ ratePerSecond: 0, burst: 1, maxKeys: 1 }), { instanceOf: RangeError });
  t.throws(() => new KeyedTokenBuckets({ ratePerSecond: 1, burst: 0.5, maxKeys: 1 }), { instanceOf: RangeError });
});

test("the schema refuses bad rate_limit config with clear messages", (t) => {
  const bad = (bucket: Record<string, unknown>) => issues(rateLimitFilter, { buckets: [{ name: "b", requests_per_second: 1, ...bucket }] });
  t.deepEqual(issues(rateLimitFilter, { buckets: [{ name: "b", requests_per_second: 1 }] }), []);
  t.deepEqual(issues(rateLimitFilter, { buckets: [], x: 1 }), ['buckets: list at least one bucket', ': Unrecognized key: "x"']);
  t.deepEqual(bad({ rps: 3 }), ['buckets.0: Unrecognized key: "rps"']);
  t.deepEqual(bad({ requests_per_second: 0 }), ["buckets.0.requests_per_second: requests_per_second must be > 0"]);
  t.deepEqual(bad({ requests_per_second: "10" }), ["buckets.0.requests_per_second: requests_per_second must be a number > 0"]);
  t.deepEqual(bad({ burst: 1.5 }), ["buckets.0.burst: burst must be a whole number >= 1"]);
  t.deepEqual(bad({ burst: 0 }), ["buckets.0.burst: burst must be a whole number >= 1"]);
  t.deepEqual(bad({ key: "user" }), ["buckets.0.key: key must be global, route, peer, remote_address or header:<name>"]);
  t.deepEqual(bad({ key: "header:bad name" }), ["buckets.0.key: key must be global, route, peer, remote_address or header:<name>"]);
  t.deepEqual(bad({ routes: [] }), ["buckets.0.routes: omit routes to apply the bucket to every route"]);
  t.is(bad({ max_keys: 0 }).length, 1);
  t.is(bad({ max_keys: 10_000_000 }).length, 1);
  t.is(bad({ name: "has space" }).length, 1);
  t.deepEqual(issues(rateLimitFilter, { buckets: [{ name: "b", requests_per_second: 1 }, { name: "b", requests_per_second: 2 }] }), [
    'buckets.1.name: bucket name "b" is used twice',
  ]);
  const many = Array.from({ length: 65 }, (_, i) => ({ name: `b${i}`, requests_per_second: 1 }));
  t.deepEqual(issues(rateLimitFilter, { buckets: many }), ["buckets: at most 64 buckets"]);
});

test("defaults: key global, max_keys 10000", (t) => {
  const r = rateLimitFilter.schema.safeParse({ buckets: [{ name: "b", requests_per_second: 5 }] });
  t.true(r.success);
  t.like(r.data?.buckets[0], { key: "global", max_keys: 10_000 });
});
