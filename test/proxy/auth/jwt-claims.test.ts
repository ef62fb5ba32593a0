/** Time claims (exp, nbf, iat, max_lifetime) against a fake clock, each both ways around the skew. */
import test from "ava";
import type { AuthOutcome } from "../../../proxy/auth/types.js";
import { ISSUER, bearer, build, claims, FakeClock, jwks, keys, request, seconds, sign, summary } from "./jwt-fixtures.js";

const OK = `ok ${ISSUER}/alice`;

function provider(extra: Record<string, unknown> = {}) {
  return build({ issuer: ISSUER, jwks: jwks(keys().ec), cache_size: 0, ...extra }, { clock: new FakeClock() });
}

async function run(b: ReturnType<typeof provider>, payload: Record<string, unknown>): Promise<AuthOutcome> {
  const token = await sign(keys().ec, claims(b.clock, payload));
  return b.provider.authenticate(request({ headers: bearer(token) }), b.clock.now());
}

test("exp: accepted until exp + skew (60s), refused from then on", async (t) => {
  const b = provider();
  const now = seconds(b.clock);
  t.is(summary(await run(b, { exp: now + 1 })), OK);
  t.is(summary(await run(b, { exp: now - 59, iat: now - 120 })), OK);
  t.is(summary(await run(b, { exp: now - 60, iat: now - 120 })), "fail 401 jwt_expired");
  t.is(summary(await run(b, { exp: now - 3600, iat: now - 7200 })), "fail 401 jwt_expired");
});

test("clock_skew 0s: a token is refused the second it expires", async (t) => {
  const b = provider({ clock_skew: "0s" });
  const now = seconds(b.clock);
  t.is(summary(await run(b, { exp: now + 1 })), OK);
  t.is(summary(await run(b, { exp: now, iat: now - 10 })), "fail 401 jwt_expired");
});

test("nbf and iat in the future: tolerated within the skew, refused beyond it", async (t) => {
  const b = provider();
  const now = seconds(b.clock);
  t.is(summary(await run(b, { nbf: now + 60 })), OK);
  t.is(summary(await run(b, { nbf: now + 61 })), "fail 401 jwt_not_yet_valid");
  t.is(summary(await run(b, { iat: now + 60 })), OK);
  t.is(summary(await run(b, { iat: now + 61 })), "fail 401 jwt_not_yet_valid");
});

test("a token that becomes valid later is accepted once the clock gets there", async (t) => {
  const b = provider();
  const token = await sign(keys().ec, claims(b.clock, { nbf: seconds(b.clock) + 300 }));
  const check = async () => summary(await b.provider.authenticate(request({ headers: bearer(token) }), b.clock.now()));
  t.is(await check(), "fail 401 jwt_not_yet_valid");
  b.clock.advance(300_000);
  t.is(await check(), OK);
  b.clock.advance(600_000);
  t.is(await check(), "fail 401 jwt_expired");
});

test("require_exp: a token without exp is refused by default and accepted when exp is not required", async (t) => {
  t.is(summary(await run(provider(), { exp: undefined })), "fail 401 jwt_missing_exp");
  t.is(summary(await run(provider({ require_exp: false }), { exp: undefined })), OK);
});

test("exp, nbf and iat must be numbers", async (t) => {
  const b = provider();
  const now = seconds(b.clock);
  t.is(summary(await run(b, { exp: String(now + 600) })), "fail 401 jwt_bad_claim");
  t.is(summary(await run(b, { nbf: "yesterday" })), "fail 401 jwt_bad_claim");
  t.is(summary(await run(b, { iat: null })), "fail 401 jwt_bad_claim");
});

test("max_lifetime bounds exp - iat (or exp - nbf when there is no iat)", async (t) => {
  const b = provider({ max_lifetime: "1h" });
  const now = seconds(b.clock);
  t.is(summary(await run(b, { iat: now, exp: now + 3600 })), OK);
  t.is(summary(await run(b, { iat: now, exp: now + 3601 })), "fail 401 jwt_lifetime_too_long");
  t.is(summary(await run(b, { iat: undefined, nbf: now, exp: now + 3600 })), OK);
  t.is(summary(await run(b, { iat: undefined, nbf: now - 10, exp: now + 3600 })), "fail 401 jwt_lifetime_too_long");
  t.is(summary(await run(b, { iat: undefined, exp: now + 60 })), "fail 401 jwt_lifetime_too_long");
  // Without max_lifetime a long-lived token is fine.
  t.is(summary(await run(provider(), { iat: now, exp: now + 86_400 * 30 })), OK);
});
