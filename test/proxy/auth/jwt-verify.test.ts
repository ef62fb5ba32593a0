/** Signature, header and key rules of the jwt provider, each both ways, with an inline key set. */
import test from "ava";
import { SignJWT } from "jose";
import type { AuthOutcome } from "../../../proxy/auth/types.js";
import { parseJwks } from "../../../proxy/auth/jwt-keys.js";
import {
  AUDIENCE,
  ISSUER,
  b64url,
  bearer,
  build,
  claims,
  FakeClock,
  handSignEs256,
  handToken,
  jwks,
  keys,
  makeKey,
  pem,
  request,
  sign,
  summary,
} from "./jwt-fixtures.js";

const HS_SECRET = Buffer.alloc(32, 7);
const HS_KEY = { kty: "oct", kid: "hs-1", k: HS_SECRET.toString("base64url") };

function provider(extra: Record<string, unknown> = {}, clock = new FakeClock()) {
  const { ec, ec2, rsa, ed } = keys();
  return build({ issuer: ISSUER, audiences: [AUDIENCE], jwks: jwks(ec, ec2, rsa, ed), ...extra }, { clock });
}

async function run(b: ReturnType<typeof provider>, token: string): Promise<AuthOutcome> {
  return b.provider.authenticate(request({ headers: bearer(token) }), b.clock.now());
}

function expectNoSecret(t: { false(v: boolean, m?: string): void }, o: AuthOutcome, token: string): void {
  const text = JSON.stringify(o);
  for (const part of token.split(".")) if (part.length > 8) t.false(text.includes(part), "a token segment leaked into the outcome");
}

test("valid ES256, ES384, RS256, PS256 and EdDSA tokens are accepted: principal iss/sub, method jwt, claims", async (t) => {
  const { ec, rsa, ed } = keys();
  const b = provider({ algorithms: ["ES256", "ES384", "RS256", "PS256", "RS512", "EdDSA", "Ed25519"] });
  for (const [key, alg] of [
    [ec, "ES256"],
    [rsa, "RS256"],
    [rsa, "PS256"],
    [rsa, "RS512"],
    [ed, "EdDSA"],
    [ed, "Ed25519"],
  ] as const) {
    const token = await sign({ ...key, alg }, claims(b.clock, { groups: ["a"] }));
    const o = await run(b, token);
    t.is(summary(o), `ok ${ISSUER}/alice`, alg);
    if (o.kind !== "ok") continue;
    t.is(o.method, "jwt");
    t.deepEqual(o.claims?.groups, ["a"]);
    t.true(Object.isFrozen(o.claims) && Object.isFrozen(o.claims!.groups));
    t.deepEqual(o.stripHeaders, ["authorization"]);
  }
  const ec384 = keys().ec384;
  const b384 = build({ issuer: ISSUER, jwks: jwks(ec384), algorithms: ["ES384"] }, { clock: b.clock });
  t.is(summary(await run(b384, await sign(ec384, claims(b.clock)))), `ok ${ISSUER}/alice`);
});

test("no token → missing; a non-Bearer Authorization belongs to another provider → missing", async (t) => {
  const b = provider();
  t.is(summary(await b.provider.authenticate(request(), b.clock.now())), "missing");
  t.is(summary(await b.provider.authenticate(request({ headers: { authorization: "Basic dTpw" } }), b.clock.now())), "missing");
  t.is(summary(await b.provider.authenticate(request({ headers: { authorization: "bearer " } }), b.clock.now())), "fail 401 jwt_malformed");
});

test("failures are 401 with a Bearer invalid_token challenge naming the provider, and never echo the token", async (t) => {
  const b = provider();
  const token = await sign(keys().ec, claims(b.clock, { iss: "https://evil.example.com" }));
  const o = await run(b, token);
  t.is(summary(o), "fail 401 jwt_wrong_issuer");
  if (o.kind === "fail") t.is(o.challenge, 'Bearer realm="jwt-test", error="invalid_token"');
  expectNoSecret(t, o, token);
});

test("alg none is refused (any case), even with a valid-looking body", async (t) => {
  const b = provider();
  for (const alg of ["none", "None", "NONE"]) {
    const token = `${b64url({ alg, kid: "ec-1" })}.${b64url(claims(b.clock))}.`;
    t.is(summary(await run(b, token)), "fail 401 jwt_alg_none", alg);
  }
});

test("algorithms not on the allow-list are refused even when the key would verify them", async (t) => {
  const { rsa } = keys();
  const strict = provider({ algorithms: ["ES256"] });
  const token = await sign(rsa, claims(strict.clock));
  t.is(summary(await run(strict, token)), "fail 401 jwt_alg_not_allowed");
  t.is(summary(await run(provider(), token)), `ok ${ISSUER}/alice`);
  const weird = handToken({ alg: "XX512", kid: "ec-1" }, claims(strict.clock) as Record<string, unknown>);
  t.is(summary(await run(strict, weird)), "fail 401 jwt_alg_not_allowed");
});

test("HS256 signed with the RSA or EC public key as the secret is refused (not allowed by default)", async (t) => {
  const { rsa, ec } = keys();
  const b = provider();
  for (const key of [rsa, ec]) {
    for (const secret of [pem(key), JSON.stringify(key.jwk), key.publicKey.export({ format: "der", type: "spki" })]) {
      const token = handToken({ alg: "HS256", kid: key.kid }, claims(b.clock) as Record<string, unknown>, secret);
      t.is(summary(await run(b, token)), "fail 401 jwt_alg_not_allowed");
    }
  }
});

test("HS/RS and HS/ES key confusion: with HS256 allowed, a public key is still never an HMAC secret", async (t) => {
  const { rsa, ec, ec2, ed } = keys();
  const b = build(
    { issuer: ISSUER, audiences: [AUDIENCE], jwks: { keys: [rsa.jwk, ec.jwk, ec2.jwk, ed.jwk, HS_KEY] }, algorithms: ["ES256", "RS256", "HS256"] },
    { clock: new FakeClock() },
  );
  for (const key of [rsa, ec]) {
    const token = handToken({ alg: "HS256", kid: key.kid }, claims(b.clock) as Record<string, unknown>, pem(key));
    t.is(summary(await run(b, token)), "fail 401 jwt_key_alg_mismatch", key.kid);
  }
  // Without a kid the only HS256 key is the oct one, and the public-key "secret" does not match it.
  const noKid = handToken({ alg: "HS256" }, claims(b.clock) as Record<string, unknown>, pem(rsa));
  t.is(summary(await run(b, noKid)), "fail 401 jwt_bad_signature");
  // The real shared secret works, by kid and without one.
  const good = handToken({ alg: "HS256", kid: "hs-1" }, claims(b.clock) as Record<string, unknown>, HS_SECRET);
  t.is(summary(await run(b, good)), `ok ${ISSUER}/alice`);
  t.is(summary(await run(b, handToken({ alg: "HS256" }, claims(b.clock) as Record<string, unknown>, HS_SECRET))), `ok ${ISSUER}/alice`);
  // And the oct key does not verify an RS256 token.
  const rsOnOct = await sign({ ...rsa, kid: "hs-1" }, claims(b.clock));
  t.is(summary(await run(b, rsOnOct)), "fail 401 jwt_key_alg_mismatch");
});

test("a shared secret in a remote key set is ignored; locally it verifies HS only", (t) => {
  const remote = parseJwks({ keys: [HS_KEY, keys().ec.jwk] }, { local: false });
  t.true(typeof remote !== "string" && remote.all.length === 1 && remote.skipped === 1);
  const local = parseJwks({ keys: [HS_KEY] }, { local: true });
  t.true(typeof local !== "string" && [...local.all[0]!.algs].every((a) => a.startsWith("HS")));
  t.is(parseJwks({ keys: [HS_KEY] }, { local: false }), "the JWKS has no usable signing key");
});

test("keys are bound to their type: P-256 verifies ES256 only, a key's own alg must equal the token's", async (t) => {
  const { ec, rsa } = keys();
  const clock = new FakeClock();
  const b = build(
    { issuer: ISSUER, jwks: { keys: [ec.jwk, { ...rsa.jwk, alg: "RS256" }] }, algorithms: ["ES256", "ES384", "RS256", "PS256"] },
    { clock },
  );
  // ES384 under the P-256 key's kid.
  const p384 = makeKey("ec384", "ec-1");
  t.is(summary(await run(b, await sign(p384, claims(clock)))), "fail 401 jwt_key_alg_mismatch");
  // PS256 with an RSA key pinned to RS256, then RS256 with it.
  t.is(summary(await run(b, await sign({ ...rsa, alg: "PS256" }, claims(clock)))), "fail 401 jwt_key_alg_mismatch");
  t.is(summary(await run(b, await sign(rsa, claims(clock)))), `ok ${ISSUER}/alice`);
});

test("jku, x5u, jwk and x5c headers are refused: keys never come from the token", async (t) => {
  const { ec } = keys();
  const b = provider();
  const body = claims(b.clock) as Record<string, unknown>;
  t.is(summary(await run(b, handSignEs256(ec, { alg: "ES256", kid: "ec-1" }, body))), `ok ${ISSUER}/alice`);
  const extras: Record<string, unknown> = {
    jku: "https://evil.example.com/jwks.json",
    x5u: "https://evil.example.com/cert.pem",
    jwk: ec.jwk,
    x5c: ["MIIB"],
  };
  for (const [name, value] of Object.entries(extras)) {
    const token = handSignEs256(ec, { alg: "ES256", kid: "ec-1", [name]: value }, body);
    const o = await run(b, token);
    t.is(summary(o), "fail 401 jwt_header_forbidden", name);
    if (o.kind === "fail") t.true(o.reason.includes(name));
  }
});

test("crit with any entry and b64 are refused", async (t) => {
  const { ec } = keys();
  const b = provider();
  const body = claims(b.clock) as Record<string, unknown>;
  for (const header of [
    { alg: "ES256", kid: "ec-1", crit: ["exp"], exp: 1 },
    { alg: "ES256", kid: "ec-1", crit: [] },
    { alg: "ES256", kid: "ec-1", crit: ["b64"], b64: false },
    { alg: "ES256", kid: "ec-1", b64: true },
  ]) {
    t.is(summary(await run(b, handSignEs256(ec, header, body))), "fail 401 jwt_crit_unsupported", JSON.stringify(header));
  }
});

test("kid is only a map key: traversal, SQL and prototype names give the same unknown-kid result", async (t) => {
  const { ec } = keys();
  const b = provider();
  const body = claims(b.clock) as Record<string, unknown>;
  const plain = await run(b, handSignEs256(ec, { alg: "ES256", kid: "no-such-key" }, body));
  t.is(summary(plain), "fail 401 jwt_unknown_kid");
  for (const kid of ["../../etc/passwd", "/etc/passwd", "' OR '1'='1' --", "__proto__", "constructor", "toString", "ec-1\u0000"]) {
    const o = await run(b, handSignEs256(ec, { alg: "ES256", kid }, body));
    t.deepEqual(o, plain, kid);
  }
  t.is(summary(await run(b, handSignEs256(ec, { alg: "ES256", kid: 42 }, body))), "fail 401 jwt_malformed");
  t.is(summary(await run(b, handSignEs256(ec, { alg: "ES256", kid: "k".repeat(257) }, body))), "fail 401 jwt_malformed");
});

test("without a kid a token is checked only when exactly one key takes its alg", async (t) => {
  const { ec, rsa } = keys();
  const b = provider(); // two P-256 keys
  t.is(summary(await run(b, handSignEs256(ec, { alg: "ES256" }, claims(b.clock) as Record<string, unknown>))), "fail 401 jwt_unknown_kid");
  const one = build({ issuer: ISSUER, jwks: jwks(ec, rsa) }, { clock: b.clock });
  t.is(summary(await run(one, handSignEs256(ec, { alg: "ES256" }, claims(b.clock) as Record<string, unknown>))), `ok ${ISSUER}/alice`);
});

test("a bad signature, or a signature by another key under a known kid, is refused", async (t) => {
  const { ec } = keys();
  const b = provider();
  const token = await sign(ec, claims(b.clock));
  const [h, p, s] = token.split(".") as [string, string, string];
  const flipped = `${h}.${p}.${s[0] === "A" ? "B" : "A"}${s.slice(1)}`;
  t.is(summary(await run(b, flipped)), "fail 401 jwt_bad_signature");
  const impostor = makeKey("ec256", "ec-1");
  const o = await run(b, await sign(impostor, claims(b.clock)));
  t.is(summary(o), "fail 401 jwt_bad_signature");
  t.is(o.kind === "fail" ? o.principal : "x", undefined, "no principal is reported for an unverified token");
  // The payload cannot be swapped under a valid signature.
  const other = b64url(claims(b.clock, { sub: "mallory" }));
  t.is(summary(await run(b, `${h}.${other}.${s}`)), "fail 401 jwt_bad_signature");
});

test("malformed tokens: segment count, base64url, JSON, UTF-8, empty signature", async (t) => {
  const { ec } = keys();
  const b = provider();
  const good = await sign(ec, claims(b.clock));
  const [h, p, s] = good.split(".") as [string, string, string];
  const cases: Record<string, string> = {
    one: "abc",
    two: `${h}.${p}`,
    four: `${h}.${p}.${s}.${s}`,
    five: `${h}.${p}.${s}.${s}.${s}`,
    "header not base64url": `${h}+.${p}.${s}`,
    "padded header": `${h}=.${p}.${s}`,
    "header not JSON": `${b64url("not json")}.${p}.${s}`,
    "header an array": `${b64url([1])}.${p}.${s}`,
    "header not UTF-8": `${Buffer.from([0x7b, 0xff, 0xfe, 0x7d]).toString("base64url")}.${p}.${s}`,
    "payload not JSON": `${h}.${b64url("{oops")}.${s}`,
    "payload a string": `${h}.${b64url('"hello"')}.${s}`,
    "empty payload": `${h}..${s}`,
    "empty signature": `${h}.${p}.`,
    "signature not base64url": `${h}.${p}.${s}!`,
    "impossible base64 length": `${h}.${p}.${s}AAA`,
    "no alg": `${b64url({ kid: "ec-1" })}.${p}.${s}`,
  };
  for (const [name, token] of Object.entries(cases)) {
    t.is(summary(await run(b, token)), "fail 401 jwt_malformed", name);
  }
  const jwe = await run(b, "a.b.c.d.e");
  t.true(jwe.kind === "fail" && jwe.reason.includes("JWE"));
});

test("a token over 8 KiB is refused before parsing; a large valid one under the bound passes", async (t) => {
  const { ec } = keys();
  const b = provider();
  const bare = (await sign(ec, claims(b.clock, { pad: "" }))).length;
  const big = await sign(ec, claims(b.clock, { pad: "x".repeat(Math.floor(((8180 - bare) * 3) / 4)) }));
  t.true(big.length <= 8192 && big.length > 8150, String(big.length));
  t.is(summary(await run(b, big)), `ok ${ISSUER}/alice`);
  const huge = await sign(ec, claims(b.clock, { pad: "x".repeat(Math.floor(((8200 - bare) * 3) / 4)) }));
  t.true(huge.length > 8192);
  t.is(summary(await run(b, huge)), "fail 401 jwt_too_large");
});

test("the issuer must match exactly and sub must be present", async (t) => {
  const { ec } = keys();
  const b = provider();
  for (const iss of ["https://issuer.example.com/", "https://ISSUER.example.com", undefined]) {
    t.is(summary(await run(b, await sign(ec, claims(b.clock, { iss })))), "fail 401 jwt_wrong_issuer", String(iss));
  }
  t.is(summary(await run(b, await sign(ec, claims(b.clock, { sub: undefined })))), "fail 401 jwt_missing_subject");
});

test("audiences: any configured one matches; a token without aud fails when audiences are set", async (t) => {
  const { ec } = keys();
  const b = provider({ audiences: [AUDIENCE, "other.example.com"] });
  t.is(summary(await run(b, await sign(ec, claims(b.clock, { aud: "other.example.com" })))), `ok ${ISSUER}/alice`);
  t.is(summary(await run(b, await sign(ec, claims(b.clock, { aud: ["x", AUDIENCE] })))), `ok ${ISSUER}/alice`);
  t.is(summary(await run(b, await sign(ec, claims(b.clock, { aud: "x" })))), "fail 401 jwt_wrong_audience");
  t.is(summary(await run(b, await sign(ec, claims(b.clock, { aud: [] })))), "fail 401 jwt_wrong_audience");
  t.is(summary(await run(b, await sign(ec, claims(b.clock, { aud: undefined })))), "fail 401 jwt_wrong_audience");
  const any = build({ issuer: ISSUER, jwks: jwks(ec) }, { clock: b.clock });
  t.is(summary(await run(any, await sign(ec, claims(b.clock, { aud: undefined })))), `ok ${ISSUER}/alice`);
});

test("a failure after the signature is verified reports who the token claimed to be", async (t) => {
  const b = provider();
  const o = await run(b, await sign(keys().ec, claims(b.clock, { aud: "x" })));
  t.is(o.kind === "fail" ? o.principal : undefined, `${ISSUER}/alice`);
});

test("required_claims: a valid token lacking them is 403 jwt_missing_claim with insufficient_scope", async (t) => {
  const { ec } = keys();
  const b = provider({ required_claims: { email_verified: true, role: ["admin", "ops"] } });
  t.is(summary(await run(b, await sign(ec, claims(b.clock, { email_verified: true, role: "ops" })))), `ok ${ISSUER}/alice`);
  t.is(summary(await run(b, await sign(ec, claims(b.clock, { email_verified: true, role: ["x", "admin"] })))), `ok ${ISSUER}/alice`);
  const o = await run(b, await sign(ec, claims(b.clock, { email_verified: false, role: "ops" })));
  t.is(summary(o), "fail 403 jwt_missing_claim");
  if (o.kind === "fail") {
    t.is(o.challenge, 'Bearer realm="jwt-test", error="insufficient_scope"');
    t.true(o.reason.includes("email_verified"));
    t.is(o.principal, `${ISSUER}/alice`);
  }
  t.is(summary(await run(b, await sign(ec, claims(b.clock, { email_verified: "true", role: "ops" })))), "fail 403 jwt_missing_claim");
  t.is(summary(await run(b, await sign(ec, claims(b.clock, { email_verified: true })))), "fail 403 jwt_missing_claim");
  // A 403 is only for a valid token: an expired one stays 401.
  t.is(summary(await run(b, await sign(ec, claims(b.clock, { exp: 1 })))), "fail 401 jwt_expired");
});

test("jose-signed tokens with typ at+jwt and extra header members are fine", async (t) => {
  const { ec } = keys();
  const b = provider();
  const token = await new SignJWT(claims(b.clock)).setProtectedHeader({ alg: "ES256", kid: "ec-1", typ: "at+jwt", cty: "x" }).sign(ec.privateKey);
  t.is(summary(await run(b, token)), `ok ${ISSUER}/alice`);
});
