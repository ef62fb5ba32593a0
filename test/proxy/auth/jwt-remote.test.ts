/**
 * Remote JWKS: a real HTTP server on 127.0.0.1 counting fetches, a fake
 * clock for every cache and rate-limit decision. Waiting is only ever for
 * the fetch itself: settled() waits for the one a request started (never
 * starting another, which refreshKeys would do if that one had already
 * finished on a fast loopback).
 */
import test from "ava";
import type { ExecutionContext } from "ava";
import type { RemoteKeySource } from "../../../proxy/auth/jwt-jwks-remote.js";
import type { AuthOutcome } from "../../../proxy/auth/types.js";
import { ISSUER, JwksServer, bearer, build, claims, FakeClock, handSignEs256, jwks, keys, request, sign, summary, type Built } from "./jwt-fixtures.js";

const OK = `ok ${ISSUER}/alice`;
const MIN = 60_000;

async function setup(t: ExecutionContext, extra: Record<string, unknown> = {}): Promise<{ server: JwksServer } & Built> {
  const server = await new JwksServer().start();
  server.body = jwks(keys().ec);
  const b = build({ issuer: ISSUER, jwks_uri: server.url, jwks_cache_duration: "10m", ...extra }, { clock: new FakeClock() });
  t.teardown(async () => {
    b.provider.close();
    await server.close();
  });
  await b.provider.refreshKeys(); // joins the first fetch, started at create
  return { server, ...b };
}

async function run(b: Built, token: string): Promise<AuthOutcome> {
  return b.provider.authenticate(request({ headers: bearer(token) }), b.clock.now());
}

function remote(b: Built): RemoteKeySource {
  return b.provider.keys as RemoteKeySource;
}

test("the key set is fetched once at start and served from cache within jwks_cache_duration", async (t) => {
  const s = await setup(t);
  t.is(s.server.fetches, 1);
  t.is(summary(await run(s, await sign(keys().ec, claims(s.clock)))), OK);
  s.clock.advance(7 * MIN);
  t.is(summary(await run(s, await sign(keys().ec, claims(s.clock)))), OK);
  t.is(s.server.fetches, 1);
});

test("refreshed in the background before it expires; requests do not wait for it", async (t) => {
  const s = await setup(t);
  s.clock.advance(8 * MIN); // 80% of 10m
  s.server.stall = true;
  // Answered with the current keys while the refresh hangs.
  t.is(summary(await run(s, await sign(keys().ec, claims(s.clock)))), OK);
  t.is(remote(s).fetches.background, 2);
  s.server.stall = false;
  s.server.body = jwks(keys().ec, keys().ec2);
  s.clock.advance(30_000);
  await run(s, await sign(keys().ec, claims(s.clock))); // the stalled fetch is still in flight: no second one
  t.is(remote(s).fetches.background, 2);
});

test("background refresh picks up a new key without any request-path fetch", async (t) => {
  const s = await setup(t);
  s.server.body = jwks(keys().ec, keys().ec2);
  s.clock.advance(8 * MIN);
  await run(s, await sign(keys().ec, claims(s.clock)));
  await remote(s).settled();
  t.is(s.server.fetches, 2);
  t.is(summary(await run(s, await sign(keys().ec2, claims(s.clock)))), OK);
  t.is(s.server.fetches, 2);
  t.is(remote(s).fetches.request, 0);
});

test("an unknown kid triggers one refetch per 30s window (key rotation at the issuer)", async (t) => {
  const s = await setup(t);
  const rotated = await sign(keys().ec2, claims(s.clock));
  t.is(summary(await run(s, rotated)), "fail 401 jwt_unknown_kid");
  t.is(s.server.fetches, 2);
  // Within the window: no fetch, whatever the kid.
  t.is(summary(await run(s, rotated)), "fail 401 jwt_unknown_kid");
  const body = claims(s.clock) as Record<string, unknown>;
  const plain = await run(s, handSignEs256(keys().ec, { alg: "ES256", kid: "nope" }, body));
  for (const kid of ["../../etc/passwd", "https://evil.example.com/jwks.json", "'; DROP TABLE keys; --"]) {
    t.deepEqual(await run(s, handSignEs256(keys().ec, { alg: "ES256", kid }, body)), plain, kid);
  }
  t.is(s.server.fetches, 2);
  // The issuer publishes the new key; after the window the next unknown kid refetches and succeeds.
  s.server.body = jwks(keys().ec, keys().ec2);
  s.clock.advance(29_000);
  t.is(summary(await run(s, rotated)), "fail 401 jwt_unknown_kid");
  t.is(s.server.fetches, 2);
  s.clock.advance(1000);
  t.is(summary(await run(s, rotated)), OK);
  t.is(s.server.fetches, 3);
});

test("many concurrent tokens with unknown kids share a single fetch", async (t) => {
  const s = await setup(t);
  const body = claims(s.clock) as Record<string, unknown>;
  const all = await Promise.all(Array.from({ length: 50 }, (_, i) => run(s, handSignEs256(keys().ec, { alg: "ES256", kid: `k${i}` }, body))));
  t.true(all.every((o) => summary(o) === "fail 401 jwt_unknown_kid"));
  t.is(s.server.fetches, 2);
});

test("a failing refresh keeps the last good key set, and is retried no sooner than 30s later", async (t) => {
  const s = await setup(t);
  const token = await sign(keys().ec, claims(s.clock, { exp: Math.floor(s.clock.ms / 1000) + 7200 }));
  for (const [status, raw, expected] of [
    [500, undefined, "HTTP 500"],
    [302, undefined, "HTTP 302"],
    [200, "not json", "not JSON"],
    [200, JSON.stringify({ keys: [] }), "no usable"],
    [200, "x".repeat(1024 * 1024 + 10), "larger than"],
  ] as const) {
    s.server.status = status;
    s.server.raw = raw;
    s.clock.advance(9 * MIN);
    const before = s.server.fetches;
    await run(s, token);
    await remote(s).settled();
    t.is(s.server.fetches, before + 1, expected);
    t.true(remote(s).lastError?.includes(expected), `${expected}: ${remote(s).lastError}`);
    t.is(summary(await run(s, await sign(keys().ec, claims(s.clock)))), OK, "old keys still verify");
    // Retry back-off: nothing more within 30s.
    s.clock.advance(29_000);
    await run(s, await sign(keys().ec, claims(s.clock)));
    t.is(s.server.fetches, before + 1);
  }
  s.server.status = 200;
  s.server.raw = undefined;
  s.clock.advance(30_000);
  await run(s, token);
  await remote(s).settled();
  t.is(remote(s).lastError, undefined);
});

test("a fetch that hangs is cut at jwks_fetch_timeout and the old keys stay", async (t) => {
  const s = await setup(t, { jwks_fetch_timeout: "200ms" });
  s.server.stall = true;
  s.clock.advance(9 * MIN);
  const started = Date.now();
  await run(s, await sign(keys().ec, claims(s.clock)));
  await remote(s).settled();
  t.true(Date.now() - started < 3000);
  t.truthy(remote(s).lastError);
  t.is(summary(await run(s, await sign(keys().ec, claims(s.clock)))), OK);
});

test("when the issuer removes a key, tokens cached under it stop working after the refresh", async (t) => {
  const s = await setup(t);
  s.server.body = jwks(keys().ec, keys().ec2);
  s.clock.advance(30_000);
  const token = await sign(keys().ec2, claims(s.clock));
  t.is(summary(await run(s, token)), OK); // unknown kid → refetch → found
  const hit = s.provider.authenticate(request({ headers: bearer(token) }), s.clock.now());
  t.false(hit instanceof Promise, "cached");
  s.server.body = jwks(keys().ec);
  s.clock.advance(8 * MIN);
  await run(s, token); // still a hit, which starts the refresh
  await remote(s).settled();
  t.is(s.provider.cacheSize, 0, "key set changed: cache cleared");
  t.is(summary(await run(s, token)), "fail 401 jwt_unknown_kid");
});

test("no key set yet: one request-path fetch per window, jwt_jwks_unavailable meanwhile", async (t) => {
  const server = await new JwksServer().start();
  server.status = 503;
  const b = build({ issuer: ISSUER, jwks_uri: server.url }, { clock: new FakeClock() });
  t.teardown(async () => {
    b.provider.close();
    await server.close();
  });
  await b.provider.refreshKeys();
  t.is(server.fetches, 1);
  const token = await sign(keys().ec, claims(b.clock));
  const o = await run(b, token);
  t.is(summary(o), "fail 401 jwt_jwks_unavailable");
  t.is(server.fetches, 2);
  t.is(summary(await run(b, token)), "fail 401 jwt_jwks_unavailable");
  t.is(server.fetches, 2);
  server.status = 200;
  server.body = jwks(keys().ec);
  b.clock.advance(30_000);
  t.is(summary(await run(b, token)), OK);
  t.is(server.fetches, 3);
});

test("a shared secret published in the remote JWKS is never used", async (t) => {
  const s = await setup(t);
  s.server.body = { keys: [keys().ec.jwk, { kty: "oct", kid: "hs", k: Buffer.alloc(32, 1).toString("base64url") }] };
  s.clock.advance(9 * MIN);
  await run(s, await sign(keys().ec, claims(s.clock)));
  await remote(s).settled();
  t.is(s.server.fetches, 2);
  t.is(remote(s).lastError, undefined);
  t.deepEqual(remote(s).current(s.clock.ms)?.all.map((k) => k.kid), ["ec-1"]);
});
