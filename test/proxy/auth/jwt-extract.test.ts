/** Where the token is read from, what is stripped or kept, and the identity headers sent upstream. */
import test from "ava";
import type { AuthOk, AuthOutcome } from "../../../proxy/auth/types.js";
import type { FilterRequest } from "../../../proxy/filters/types.js";
import { AUDIENCE, ISSUER, bearer, build, claims, FakeClock, jwks, keys, request, sign, summary } from "./jwt-fixtures.js";

const OK = `ok ${ISSUER}/alice`;

function provider(extra: Record<string, unknown> = {}) {
  return build({ issuer: ISSUER, audiences: [AUDIENCE], jwks: jwks(keys().ec), ...extra }, { clock: new FakeClock() });
}

async function token(b: ReturnType<typeof provider>, extra: Record<string, unknown> = {}): Promise<string> {
  return sign(keys().ec, claims(b.clock, extra));
}

async function run(b: ReturnType<typeof provider>, req: FilterRequest): Promise<AuthOutcome> {
  return b.provider.authenticate(req, b.clock.now());
}

function ok(t: { fail(m: string): void }, o: AuthOutcome): AuthOk {
  if (o.kind !== "ok") {
    t.fail(`expected ok, got ${summary(o)}`);
    throw new Error("not ok");
  }
  return o;
}

test("default: Authorization Bearer (scheme case-insensitive), stripped before forwarding", async (t) => {
  const b = provider();
  const tok = await token(b);
  for (const scheme of ["Bearer", "bearer", "BEARER"]) {
    const o = ok(t, await run(b, request({ headers: { authorization: `${scheme} ${tok}` } })));
    t.deepEqual(o.stripHeaders, ["authorization"]);
    t.deepEqual(o.stripQuery, []);
  }
});

test("forward: true keeps the token (no strip lists)", async (t) => {
  const b = provider({ forward: true });
  const o = ok(t, await run(b, request({ headers: bearer(await token(b)) })));
  t.is(o.stripHeaders, undefined);
  t.is(o.stripQuery, undefined);
});

test("a custom header with its own prefix, and one without a prefix", async (t) => {
  const b = provider({ from_headers: [{ name: "X-Goog-Iap-Jwt-Assertion" }, { name: "x-auth", value_prefix: "JWT " }] });
  const tok = await token(b);
  t.deepEqual(ok(t, await run(b, request({ headers: { "x-goog-iap-jwt-assertion": tok } }))).stripHeaders, ["x-goog-iap-jwt-assertion"]);
  t.deepEqual(ok(t, await run(b, request({ headers: { "x-auth": `JWT ${tok}` } }))).stripHeaders, ["x-auth"]);
  // The default Authorization header is not read when from_headers is set.
  t.is(summary(await run(b, request({ headers: bearer(tok) }))), "missing");
  // A value without the prefix is not this provider's.
  t.is(summary(await run(b, request({ headers: { "x-auth": tok } }))), "missing");
});

test("query parameter: read, percent-decoded, and named in stripQuery", async (t) => {
  const b = provider({ from_params: ["access_token"] });
  const tok = await token(b);
  const o = ok(t, await run(b, request({ path: "/a", url: `/a?x=1&access_token=${tok}`, query: `x=1&access_token=${tok}` })));
  t.deepEqual(o.stripQuery, ["access_token"]);
  t.deepEqual(o.stripHeaders, []);
  const enc = tok.replace(/\./g, "%2E");
  t.is(summary(await run(b, request({ query: `access_token=${enc}` }))), OK);
  t.is(summary(await run(b, request({ query: "access_token=%E0%A4%A" }))), "fail 401 jwt_malformed");
  t.is(summary(await run(b, request({ query: "access_token=" }))), "fail 401 jwt_malformed");
  t.is(summary(await run(b, request({ query: "other=1" }))), "missing");
});

test("cookie: read; the token cookie is removed and the other cookies kept", async (t) => {
  const b = provider({ from_headers: [], from_cookies: ["session"] });
  const tok = await token(b);
  const mixed = ok(t, await run(b, request({ headers: { cookie: `theme=dark; session=${tok}; lang=en` } })));
  t.is(mixed.setHeaders?.cookie, "theme=dark; lang=en");
  t.deepEqual(mixed.stripHeaders, []);
  const alone = ok(t, await run(b, request({ headers: { cookie: `session="${tok}"` } })));
  t.deepEqual(alone.stripHeaders, ["cookie"]);
  t.is(alone.setHeaders?.cookie, undefined);
  t.is(summary(await run(b, request({ headers: { cookie: "theme=dark" } }))), "missing");
  const kept = ok(t, await run(provider({ from_headers: [], from_cookies: ["session"], forward: true }), request({ headers: { cookie: `session=${tok}; a=b` } })));
  t.is(kept.setHeaders?.cookie, undefined);
});

test("two tokens (header and param, two params, two cookies) are ambiguous: 401", async (t) => {
  const b = provider({ from_params: ["access_token"], from_cookies: ["session"] });
  const tok = await token(b);
  const cases: FilterRequest[] = [
    request({ headers: bearer(tok), query: `access_token=${tok}` }),
    request({ query: `access_token=${tok}&access_token=${tok}` }),
    request({ headers: { cookie: `session=${tok}; session=${tok}` } }),
    request({ headers: { ...bearer(tok), cookie: `session=${tok}` } }),
  ];
  for (const req of cases) t.is(summary(await run(b, req)), "fail 401 jwt_ambiguous");
  const two = provider({ from_headers: [{ name: "authorization", value_prefix: "Bearer " }, { name: "x-token" }] });
  t.is(summary(await run(two, request({ headers: { ...bearer(tok), "x-token": tok } }))), "fail 401 jwt_ambiguous");
  t.is(summary(await run(two, request({ headers: { "x-token": tok } }))), OK);
});

test("claim_to_headers: strings as is, numbers, arrays joined by ',', objects as JSON, nested paths, absent skipped", async (t) => {
  const b = provider({
    claim_to_headers: [
      { claim: "sub", header: "x-user-id" },
      { claim: "groups", header: "x-user-groups" },
      { claim: "address", header: "x-address" },
      { claim: "level", header: "x-level" },
      { claim: "realm.role", header: "x-realm-role" },
      { claim: "https://example.com/tenant", header: "x-tenant" },
      { claim: "name", header: "x-name" },
      { claim: "absent", header: "x-absent" },
      { claim: "evil", header: "x-evil" },
    ],
  });
  const tok = await token(b, {
    groups: ["admins", "ops"],
    address: { city: "Paris", zip: "75001" },
    level: 3,
    realm: { role: "editor" },
    "https://example.com/tenant": "acme",
    name: "Zoë",
    evil: "a\r\nx-admin: 1",
  });
  const o = ok(t, await run(b, request({ headers: bearer(tok) })));
  t.deepEqual(o.setHeaders, {
    "x-user-id": "alice",
    "x-user-groups": "admins,ops",
    "x-address": '{"city":"Paris","zip":"75001"}',
    "x-level": "3",
    "x-realm-role": "editor",
    "x-tenant": "acme",
    "x-name": Buffer.from("Zoë", "utf8").toString("latin1"),
  });
});

test("forward_payload_header carries the base64url payload, which decodes to the verified claims", async (t) => {
  const b = provider({ forward_payload_header: "x-jwt-payload" });
  const tok = await token(b, { role: "x" });
  const o = ok(t, await run(b, request({ headers: bearer(tok) })));
  const v = o.setHeaders?.["x-jwt-payload"];
  t.is(v, tok.split(".")[1]);
  t.deepEqual(JSON.parse(Buffer.from(v!, "base64url").toString("utf8")), o.claims);
  t.false(v!.includes("."), "only the payload, never the signature");
});

test("repeated custom header values are ambiguous, not concatenated", async (t) => {
  const b = provider({ from_headers: [{ name: "x-token" }] });
  const tok = await token(b);
  t.is(summary(await run(b, request({ headers: { "x-token": [tok, tok] } }))), "fail 401 jwt_ambiguous");
  // Node joins repeated custom headers with ", ": that is not a token.
  t.is(summary(await run(b, request({ headers: { "x-token": `${tok}, ${tok}` } }))), "fail 401 jwt_malformed");
});
