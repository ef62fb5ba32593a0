/** The verified-token cache: hits are synchronous, entries end at exp (fake clock), the cache is bounded. */
import test from "ava";
import type { AuthOutcome } from "../../../proxy/auth/types.js";
import { ISSUER, bearer, build, claims, FakeClock, jwks, keys, request, sign, summary } from "./jwt-fixtures.js";

const OK = `ok ${ISSUER}/alice`;

function provider(extra: Record<string, unknown> = {}) {
  return build({ issuer: ISSUER, jwks: jwks(keys().ec), ...extra }, { clock: new FakeClock() });
}

/** The outcome, and whether it came synchronously (a cache hit). */
async function run(b: ReturnType<typeof provider>, token: string): Promise<{ o: AuthOutcome; hit: boolean }> {
  const r = b.provider.authenticate(request({ headers: bearer(token) }), b.clock.now());
  return { o: await r, hit: !(r instanceof Promise) };
}

test("a verified token is answered from the cache the second time (synchronously, same outcome)", async (t) => {
  const b = provider();
  const token = await sign(keys().ec, claims(b.clock));
  const first = await run(b, token);
  t.false(first.hit);
  t.is(summary(first.o), OK);
  const second = await run(b, token);
  t.true(second.hit);
  t.is(summary(second.o), OK);
  t.deepEqual(second.o, first.o);
  t.is(b.provider.cacheSize, 1);
});

test("a cache entry ends at exp: the token is then re-verified (still fine within the skew) and refused after it", async (t) => {
  const b = provider();
  const token = await sign(keys().ec, claims(b.clock)); // exp = now + 600s
  await run(b, token);
  b.clock.advance(599_000);
  t.true((await run(b, token)).hit);
  b.clock.advance(1000);
  const atExp = await run(b, token);
  t.false(atExp.hit);
  t.is(summary(atExp.o), OK);
  b.clock.advance(60_000);
  const after = await run(b, token);
  t.false(after.hit);
  t.is(summary(after.o), "fail 401 jwt_expired");
});

test("failures are not cached; a 403 for a missing claim (a valid token) is", async (t) => {
  const b = provider({ required_claims: { admin: true } });
  const bad = await sign(keys().ec2, claims(b.clock)); // unknown kid
  t.false((await run(b, bad)).hit);
  t.false((await run(b, bad)).hit);
  const lacking = await sign(keys().ec, claims(b.clock));
  t.is(summary((await run(b, lacking)).o), "fail 403 jwt_missing_claim");
  const again = await run(b, lacking);
  t.true(again.hit);
  t.is(summary(again.o), "fail 403 jwt_missing_claim");
});

test("a token without exp (require_exp: false) is verified every time", async (t) => {
  const b = provider({ require_exp: false });
  const token = await sign(keys().ec, claims(b.clock, { exp: undefined }));
  t.is(summary((await run(b, token)).o), OK);
  t.false((await run(b, token)).hit);
});

test("the cache is bounded (LRU) and cache_size 0 turns it off", async (t) => {
  const b = provider({ cache_size: 2 });
  const tokens = await Promise.all(["a", "b", "c"].map((sub) => sign(keys().ec, claims(b.clock, { sub }))));
  for (const tok of tokens) await run(b, tok);
  t.is(b.provider.cacheSize, 2);
  t.true((await run(b, tokens[2]!)).hit);
  t.true((await run(b, tokens[1]!)).hit);
  t.false((await run(b, tokens[0]!)).hit, "the oldest entry was dropped");
  // a was just re-inserted, so c (least recently used) went.
  t.true((await run(b, tokens[1]!)).hit);
  t.false((await run(b, tokens[2]!)).hit);

  const off = provider({ cache_size: 0 });
  await run(off, tokens[0]!);
  t.false((await run(off, tokens[0]!)).hit);
  t.is(off.provider.cacheSize, 0);
});

test("a cache hit still honours where the token came from (strip lists follow the request)", async (t) => {
  const b = provider({ from_params: ["access_token"] });
  const token = await sign(keys().ec, claims(b.clock));
  await run(b, token);
  const r = b.provider.authenticate(request({ query: `access_token=${token}` }), b.clock.now());
  t.false(r instanceof Promise);
  const o = await r;
  t.true(o.kind === "ok" && o.stripQuery?.[0] === "access_token" && o.stripHeaders?.length === 0);
});

test("loose bound for a loaded machine: a warm (cached) check averages under 1 ms over 2,000 calls", async (t) => {
  const b = provider();
  const token = await sign(keys().ec, claims(b.clock));
  await run(b, token);
  const now = b.clock.now();
  const req = request({ headers: bearer(token) });
  const start = process.hrtime.bigint();
  for (let i = 0; i < 2000; i++) {
    const o = b.provider.authenticate(req, now);
    if (o instanceof Promise || o.kind !== "ok") t.fail("expected a synchronous hit");
  }
  const avgUs = Number(process.hrtime.bigint() - start) / 1000 / 2000;
  t.true(avgUs < 1000, `average ${avgUs.toFixed(1)} µs`);
});

test("a verified check (no cache) is bounded too: 200 ES256 checks average under 5 ms", async (t) => {
  const b = provider({ cache_size: 0 });
  const token = await sign(keys().ec, claims(b.clock));
  const req = request({ headers: bearer(token) });
  await b.provider.authenticate(req, b.clock.now());
  const start = process.hrtime.bigint();
  for (let i = 0; i < 200; i++) {
    const o = await b.provider.authenticate(req, b.clock.now());
    if (o.kind !== "ok") t.fail(summary(o));
  }
  const avgUs = Number(process.hrtime.bigint() - start) / 1000 / 200;
  t.true(avgUs < 5000, `average ${avgUs.toFixed(1)} µs`);
});
