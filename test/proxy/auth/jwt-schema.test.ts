import test from "ava";
import { jwtProvider } from "../../../proxy/auth/jwt.js";
import { ISSUER, issues, jwks, keys } from "./jwt-fixtures.js";

const base = { issuer: ISSUER, jwks_uri: "https://issuer.example.com/.well-known/jwks.json" };

test("defaults: Bearer header, the default algorithms, 60s skew, exp required, strip, cache 10000", (t) => {
  const c = jwtProvider.schema.parse(base);
  t.deepEqual(c.from_headers, [{ name: "authorization", value_prefix: "Bearer " }]);
  t.deepEqual(c.algorithms, ["ES256", "ES384", "RS256", "PS256", "EdDSA"]);
  t.is(c.clock_skew, 60_000);
  t.is(c.jwks_cache_duration, 600_000);
  t.is(c.jwks_fetch_timeout, 5000);
  t.true(c.require_exp);
  t.false(c.forward);
  t.is(c.cache_size, 10_000);
  t.deepEqual(c.from_params, []);
  t.deepEqual(c.from_cookies, []);
});

test("the full example block parses, durations to ms and header names lower-cased", (t) => {
  const c = jwtProvider.schema.parse({
    issuer: ISSUER,
    audiences: ["api.example.com"],
    jwks_uri: "https://issuer.example.com/.well-known/jwks.json",
    jwks_cache_duration: "10m",
    jwks_fetch_timeout: "5s",
    algorithms: ["ES256", "RS256"],
    from_headers: [{ name: "Authorization", value_prefix: "Bearer " }],
    from_params: ["access_token"],
    from_cookies: ["session"],
    clock_skew: "60s",
    require_exp: true,
    max_lifetime: "24h",
    forward: false,
    forward_payload_header: "X-JWT-Payload",
    claim_to_headers: [
      { claim: "sub", header: "x-user-id" },
      { claim: "groups", header: "x-user-groups" },
    ],
    required_claims: { email_verified: true },
    cache_size: 10000,
  });
  t.is(c.max_lifetime, 86_400_000);
  t.is(c.forward_payload_header, "x-jwt-payload");
  t.is(c.from_headers[0]!.name, "authorization");
});

test("unknown keys are refused (strict)", (t) => {
  t.true(issues({ ...base, issuers: [ISSUER] }).some((m) => m.includes("issuers")));
  t.true(issues({ ...base, from_headers: [{ name: "x", prefix: "B" }] }).length > 0);
});

test("exactly one of jwks_file, jwks_uri, jwks", (t) => {
  t.true(issues({ issuer: ISSUER }).some((m) => m.includes("exactly one")));
  t.true(issues({ ...base, jwks_file: "jwks.json" }).some((m) => m.includes("exactly one")));
  t.deepEqual(issues({ issuer: ISSUER, jwks_file: "jwks.json" }), []);
  t.deepEqual(issues({ issuer: ISSUER, jwks: jwks(keys().ec) }), []);
});

test('"none" is refused at load, and unknown algorithms are named', (t) => {
  t.true(issues({ ...base, algorithms: ["none"] }).some((m) => m.includes('"none" is never accepted')));
  t.true(issues({ ...base, algorithms: ["NONE"] }).some((m) => m.includes("never accepted")));
  t.true(issues({ ...base, algorithms: ["ES256K"] }).some((m) => m.includes("unsupported algorithm")));
  t.true(issues({ ...base, algorithms: ["ES256", "ES256"] }).some((m) => m.includes("twice")));
  t.true(issues({ ...base, algorithms: [] }).length > 0);
});

test("HS* need a local key set: refused with jwks_uri, accepted with jwks_file", (t) => {
  t.true(issues({ ...base, algorithms: ["HS256"] }).some((m) => m.startsWith("algorithms:") && m.includes("local key set")));
  t.deepEqual(issues({ issuer: ISSUER, jwks_file: "k.json", algorithms: ["HS256"] }), []);
});

test("jwks_uri: https, or plain http only to a loopback host; no credentials", (t) => {
  t.deepEqual(issues({ issuer: ISSUER, jwks_uri: "http://127.0.0.1:8080/jwks" }), []);
  t.deepEqual(issues({ issuer: ISSUER, jwks_uri: "http://localhost:8080/jwks" }), []);
  t.deepEqual(issues({ issuer: ISSUER, jwks_uri: "http://[::1]:8080/jwks" }), []);
  t.true(issues({ issuer: ISSUER, jwks_uri: "http://issuer.example.com/jwks" }).some((m) => m.includes("https")));
  t.true(issues({ issuer: ISSUER, jwks_uri: "ftp://issuer.example.com/jwks" }).some((m) => m.includes("https")));
  t.true(issues({ issuer: ISSUER, jwks_uri: "https://u:p@issuer.example.com/jwks" }).some((m) => m.includes("credentials")));
  t.true(issues({ issuer: ISSUER, jwks_uri: "not a url" }).some((m) => m.includes("absolute URL")));
});

test("identity headers cannot be hop-by-hop, credential or source headers, nor set twice", (t) => {
  t.true(issues({ ...base, claim_to_headers: [{ claim: "sub", header: "host" }] }).some((m) => m.includes("cannot be set")));
  t.true(issues({ ...base, forward_payload_header: "authorization" }).some((m) => m.includes("cannot be set")));
  t.true(issues({ ...base, claim_to_headers: [{ claim: "sub", header: "Content-Length" }] }).some((m) => m.includes("cannot be set")));
  t.true(
    issues({ ...base, from_headers: [{ name: "x-token" }], claim_to_headers: [{ claim: "sub", header: "x-token" }] }).some((m) =>
      m.includes("where the token is read"),
    ),
  );
  t.true(
    issues({
      ...base,
      claim_to_headers: [
        { claim: "sub", header: "x-user" },
        { claim: "email", header: "x-user" },
      ],
    }).some((m) => m.includes("set twice")),
  );
  t.true(issues({ ...base, claim_to_headers: [{ claim: "sub", header: "bad header" }] }).length > 0);
});

test("durations are bounded: skew at most 10m, fetch timeout at most 60s, cache duration at least 1s", (t) => {
  t.true(issues({ ...base, clock_skew: "1h" }).some((m) => m.startsWith("clock_skew")));
  t.deepEqual(issues({ ...base, clock_skew: "0s" }), []);
  t.true(issues({ ...base, jwks_fetch_timeout: "5m" }).some((m) => m.startsWith("jwks_fetch_timeout")));
  t.true(issues({ ...base, jwks_cache_duration: "10ms" }).some((m) => m.startsWith("jwks_cache_duration")));
  t.true(issues({ ...base, clock_skew: 60 }).some((m) => m.startsWith("clock_skew")));
});

test("at least one token source; header names listed once", (t) => {
  t.true(issues({ ...base, from_headers: [] }).some((m) => m.includes("at least one place")));
  t.deepEqual(issues({ ...base, from_headers: [], from_cookies: ["session"] }), []);
  t.true(issues({ ...base, from_headers: [{ name: "authorization" }, { name: "Authorization", value_prefix: "Bearer " }] }).some((m) => m.includes("twice")));
});

test("an inline key set is checked in full: private material and bad keys are refused with the key index", (t) => {
  const { ec, rsa } = keys();
  const priv = { ...ec.privateKey.export({ format: "jwk" }), kid: "p" };
  t.true(issues({ issuer: ISSUER, jwks: { keys: [rsa.jwk, priv] } }).some((m) => m.includes("keys[1]") && m.includes("private")));
  t.true(issues({ issuer: ISSUER, jwks: { keys: [{ ...ec.jwk, x: "AAAA" }] } }).some((m) => m.includes("keys[0]")));
  t.true(issues({ issuer: ISSUER, jwks: { keys: [{ ...ec.jwk, alg: "RS256" }] } }).some((m) => m.includes("does not fit")));
  t.true(issues({ issuer: ISSUER, jwks: { keys: [{ kty: "oct", k: Buffer.alloc(16).toString("base64url") }] } }).some((m) => m.includes("32 bytes")));
  t.true(issues({ issuer: ISSUER, jwks: { keys: [] } }).some((m) => m.includes("no usable")));
  t.true(issues({ issuer: ISSUER, jwks: { nokeys: 1 } }).some((m) => m.includes("keys array")));
  const small = { kty: "RSA", n: Buffer.alloc(128, 0xff).toString("base64url"), e: "AQAB" };
  t.true(issues({ issuer: ISSUER, jwks: { keys: [small] } }).some((m) => m.includes("2048")));
});

test("bounded lists: audiences, claim headers, cache size", (t) => {
  t.true(issues({ ...base, audiences: Array.from({ length: 65 }, (_, i) => `a${i}`) }).some((m) => m.startsWith("audiences")));
  t.true(issues({ ...base, audiences: [] }).some((m) => m.startsWith("audiences")));
  t.true(issues({ ...base, cache_size: 2_000_000 }).some((m) => m.startsWith("cache_size")));
  t.deepEqual(issues({ ...base, cache_size: 0 }), []);
});
