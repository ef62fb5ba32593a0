/**
 * The hmac provider against requests signed the way a Kong hmac-auth client
 * signs them (node:crypto, signing string built here, not by the provider).
 */
import test from "ava";
import { createHash, createHmac } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hmacProvider, type HmacConfigInput } from "../../../proxy/auth/hmac.js";
import { computeHmac, signingString } from "../../../proxy/auth/hmac-signing.js";
import type { AuthFailed, AuthOk, AuthOutcome, AuthProvider } from "../../../proxy/auth/types.js";
import type { FilterRequest } from "../../../proxy/filters/types.js";
import { FakeClock, request } from "../filters/fixtures.js";

const SECRET = "alice-secret-0123456789abcdef";
const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);
const DATE = new Date(NOW).toUTCString();

/** Kong's client-side recipe, written independently of the provider. */
function kongSignature(secret: string, algorithm: string, names: string[], req: FilterRequest): string {
  const lines = names.map((n) =>
    n === "request-line"
      ? `${req.method} ${req.url} HTTP/1.1`
      : n === "@request-target"
        ? `@request-target: ${req.method.toLowerCase()} ${req.url}`
        : `${n}: ${String(req.headers[n])}`,
  );
  return createHmac(algorithm.replace("hmac-", ""), secret).update(lines.join("\n")).digest("base64");
}

function credentials(user: string, algorithm: string, names: string[] | undefined, signature: string): string {
  const headers = names === undefined ? "" : ` headers="${names.join(" ")}",`;
  return `hmac username="${user}", algorithm="${algorithm}",${headers} signature="${signature}"`;
}

interface SignOpts {
  user?: string;
  secret?: string;
  algorithm?: string;
  headers?: string[];
  omitHeadersParam?: boolean;
  header?: "authorization" | "proxy-authorization";
}

/** A signed GET /orders?id=7 with a Date header (plus extra headers and changes from init). */
function signed(opts: SignOpts = {}, init: Partial<FilterRequest> = {}, extra: Record<string, string> = {}): FilterRequest {
  const req = request({ method: "GET", path: "/orders", query: "id=7", url: "/orders?id=7", ...init, headers: { date: DATE, ...extra } });
  const names = opts.headers ?? ["date", "request-line"];
  const algorithm = opts.algorithm ?? "hmac-sha256";
  const sig = kongSignature(opts.secret ?? SECRET, algorithm, opts.omitHeadersParam ? ["date"] : names, req);
  req.headers[opts.header ?? "authorization"] = credentials(opts.user ?? "alice", algorithm, opts.omitHeadersParam ? undefined : names, sig);
  return req;
}

const dir = mkdtempSync(join(tmpdir(), "hmac-test-"));
writeFileSync(join(dir, "consumers.yaml"), `- username: alice\n  secret: "${SECRET}"\n- username: bob\n  secret: "bob-secret-0123456789abcdef"\n`, { mode: 0o600 });

function provider(config: Partial<HmacConfigInput> = {}, clock = new FakeClock(NOW)): AuthProvider {
  const parsed = hmacProvider.schema.parse({ consumers_file: "consumers.yaml", replay_window: "0s", ...config });
  return hmacProvider.create("partners", parsed, { clock: clock.now, baseDir: dir });
}

function check(p: AuthProvider, req: FilterRequest, now = NOW): AuthOutcome {
  const o = p.authenticate(req, new Date(now));
  if (o instanceof Promise) throw new Error("expected a synchronous outcome");
  return o;
}

function ok(t: { is(a: unknown, b: unknown, m?: string): void }, o: AuthOutcome): AuthOk {
  t.is(o.kind, "ok", o.kind === "fail" ? `${o.code}: ${o.reason}` : undefined);
  return o as AuthOk;
}

function failed(o: AuthOutcome): AuthFailed {
  if (o.kind !== "fail") throw new Error(`expected a failure, got ${o.kind}`);
  return o;
}

test("the signing string matches Kong's published example (@request-target with a custom header)", (t) => {
  const req = request({ method: "GET", url: "/kong/healthy", headers: { date: "Mon, 02 Dec 2024 16:23:54 GMT", dummy: "Kong" } });
  const text = signingString(req, ["date", "dummy", "@request-target"]);
  t.is(text, "date: Mon, 02 Dec 2024 16:23:54 GMT\ndummy: Kong\n@request-target: get /kong/healthy");
  t.is(computeHmac("hmac-sha256", Buffer.from("!Qwaszxerdfcv"), text as string).toString("base64"), "lmCENhBAr+WhCzoL21aqRU44Y0C5HjS5sAU8zkmAoPE=");
});

test("a Kong-signed request is accepted: principal, consumer, method, stripped header", (t) => {
  const o = ok(t, check(provider(), signed()));
  t.is(o.principal, "alice");
  t.is(o.consumer, "alice");
  t.is(o.method, "hmac");
  t.deepEqual(o.stripHeaders, ["authorization"]);
  t.is(hmacProvider.type, "hmac");
  t.false(provider().needsBody);
});

test("hide_credentials: false keeps the credential header", (t) => {
  const o = ok(t, check(provider({ hide_credentials: false }), signed()));
  t.is(o.stripHeaders, undefined);
});

test("each algorithm verifies when allowed", (t) => {
  const p = provider({ algorithms: ["hmac-sha1", "hmac-sha256", "hmac-sha384", "hmac-sha512"] });
  for (const algorithm of ["hmac-sha1", "hmac-sha256", "hmac-sha384", "hmac-sha512"]) {
    ok(t, check(p, signed({ algorithm })));
    // Signed with one algorithm, claimed as another: refused.
    const req = signed({ algorithm });
    req.headers.authorization = String(req.headers.authorization).replace(algorithm, algorithm === "hmac-sha1" ? "hmac-sha256" : "hmac-sha1");
    t.is(failed(check(p, req)).code, "hmac_bad_signature", algorithm);
  }
});

test("the algorithm allow-list: sha1 is off by default, unknown names and unlisted ones are refused", (t) => {
  const def = provider();
  for (const algorithm of ["hmac-sha256", "hmac-sha384", "hmac-sha512"]) ok(t, check(def, signed({ algorithm })));
  const sha1 = failed(check(def, signed({ algorithm: "hmac-sha1" })));
  t.is(sha1.code, "hmac_bad_algorithm");
  t.is(sha1.status, 401);
  t.is(sha1.principal, "alice");
  t.regex(sha1.reason, /"hmac-sha1" is not allowed/);
  const md5 = signed();
  md5.headers.authorization = String(md5.headers.authorization).replace("hmac-sha256", "hmac-md5");
  t.is(failed(check(def, md5)).code, "hmac_bad_algorithm");
  const only256 = provider({ algorithms: ["hmac-sha256"] });
  ok(t, check(only256, signed({ algorithm: "hmac-sha256" })));
  t.is(failed(check(only256, signed({ algorithm: "hmac-sha512" }))).code, "hmac_bad_algorithm");
});

test("Proxy-Authorization is read (before Authorization), and every hmac credential header is stripped", (t) => {
  const p = provider();
  const viaProxy = ok(t, check(p, signed({ header: "proxy-authorization" })));
  t.deepEqual(viaProxy.stripHeaders, ["proxy-authorization"]);
  // Both: the Proxy-Authorization one decides (here it is bad, so the good Authorization does not help).
  const both = signed();
  both.headers["proxy-authorization"] = String(both.headers.authorization).replace(/signature="[^"]+"/, 'signature="AAAA"');
  t.is(failed(check(p, both)).code, "hmac_bad_signature");
  const bothGood = signed({ header: "proxy-authorization" });
  bothGood.headers.authorization = bothGood.headers["proxy-authorization"];
  t.deepEqual(ok(t, check(p, bothGood)).stripHeaders, ["proxy-authorization", "authorization"]);
  // A Bearer token in Authorization is left alone.
  const withBearer = signed({ header: "proxy-authorization" }, {}, { authorization: "Bearer abc" });
  t.deepEqual(ok(t, check(p, withBearer)).stripHeaders, ["proxy-authorization"]);
});

test("the scheme word is case-insensitive; other schemes and no header are 'missing'", (t) => {
  const p = provider();
  for (const scheme of ["HMAC", "Hmac", "hMaC"]) {
    const req = signed();
    req.headers.authorization = String(req.headers.authorization).replace(/^hmac/, scheme);
    ok(t, check(p, req));
  }
  t.is(check(p, request({ headers: { date: DATE } })).kind, "missing");
  t.is(check(p, request({ headers: { authorization: "Bearer x.y.z", date: DATE } })).kind, "missing");
  t.is(check(p, request({ headers: { authorization: 'hmacfoo username="a"', date: DATE } })).kind, "missing");
});

test("without a headers parameter only the date is signed (Kong/draft-cavage default)", (t) => {
  const p = provider();
  const req = signed({ omitHeadersParam: true });
  t.false(String(req.headers.authorization).includes("headers="));
  ok(t, check(p, req));
  // So the path is not covered: the same credentials verify on another path...
  const moved = signed({ omitHeadersParam: true }, { url: "/admin" });
  moved.headers.authorization = req.headers.authorization;
  ok(t, check(p, moved));
  // ...which enforce_headers exists to prevent.
  t.is(failed(check(provider({ enforce_headers: ["request-line"] }), req)).code, "hmac_enforced_header");
});

test("request-line signs METHOD path?query HTTP/1.1; tampering with method, path or query is caught", (t) => {
  const p = provider();
  const req = signed({ headers: ["date", "request-line"] });
  ok(t, check(p, req));
  for (const change of [{ method: "DELETE" }, { url: "/orders?id=8" }, { url: "/orders" }, { url: "/other?id=7" }]) {
    const tampered = { ...req, headers: { ...req.headers }, ...change };
    t.is(failed(check(p, tampered)).code, "hmac_bad_signature", JSON.stringify(change));
  }
  // The version is HTTP/1.1 whatever the client spoke.
  const sig = createHmac("sha256", SECRET).update(`date: ${DATE}\nGET /orders?id=7 HTTP/2.0`).digest("base64");
  const h2 = request({ url: "/orders?id=7", headers: { date: DATE, authorization: credentials("alice", "hmac-sha256", ["date", "request-line"], sig) } });
  t.is(failed(check(p, h2)).code, "hmac_bad_signature");
});

test("@request-target signs '@request-target: <lower method> <path?query>' and is not interchangeable with request-line", (t) => {
  const p = provider();
  const req = signed({ headers: ["@request-target", "date"] }, { method: "POST" });
  ok(t, check(p, req));
  t.is(failed(check(p, { ...req, method: "PUT", headers: { ...req.headers } })).code, "hmac_bad_signature");
  // A signature over the request line, claimed as @request-target, does not verify.
  const line = signed({ headers: ["request-line", "date"] }, { method: "POST" });
  line.headers.authorization = String(line.headers.authorization).replace('headers="request-line date"', 'headers="@request-target date"');
  t.is(failed(check(p, line)).code, "hmac_bad_signature");
});

test("header names in 'headers' are lower-cased; custom headers are signed as 'name: value'", (t) => {
  const p = provider();
  const req = signed({ headers: ["date", "x-tenant", "host"] }, {}, { "x-tenant": "acme", host: "api.example.com:8443" });
  req.headers.authorization = String(req.headers.authorization).replace('headers="date x-tenant host"', 'headers="Date X-Tenant Host"');
  ok(t, check(p, req));
  req.headers["x-tenant"] = "evil";
  t.is(failed(check(p, req)).code, "hmac_bad_signature");
});

test("enforce_headers: every listed name must be signed", (t) => {
  const p = provider({ enforce_headers: ["Date", "request-line", "x-tenant"] });
  const missing = failed(check(p, signed({ headers: ["date", "request-line"] }, {}, { "x-tenant": "a" })));
  t.is(missing.code, "hmac_enforced_header");
  t.regex(missing.reason, /x-tenant/);
  t.is(missing.challenge, 'hmac realm="partners", headers="date request-line x-tenant"');
  ok(t, check(p, signed({ headers: ["date", "request-line", "x-tenant"] }, {}, { "x-tenant": "a" })));
});

test("a signed header missing from the request is refused (Kong would sign 'name:')", (t) => {
  const p = provider();
  const req = signed({ headers: ["date", "x-tenant"] }, {}, { "x-tenant": "a" });
  delete req.headers["x-tenant"];
  const f = failed(check(p, req));
  t.is(f.code, "hmac_missing_header");
  t.regex(f.reason, /"x-tenant"/);
});

test("unknown user: hmac_unknown_user naming the user; wrong secret or changed value: hmac_bad_signature", (t) => {
  const p = provider();
  const unknown = failed(check(p, signed({ user: "mallory" })));
  t.is(unknown.code, "hmac_unknown_user");
  t.is(unknown.principal, "mallory");
  t.regex(unknown.reason, /"mallory"/);
  t.is(unknown.challenge, 'hmac realm="partners"');
  t.is(failed(check(p, signed({ user: "bob" }))).code, "hmac_bad_signature");
  t.is(failed(check(p, signed({ secret: SECRET + "x" }))).code, "hmac_bad_signature");
  ok(t, check(p, signed({ user: "bob", secret: "bob-secret-0123456789abcdef" })));
});

test("signatures of the wrong length or not base64 are refused without throwing", (t) => {
  const p = provider();
  const good = signed();
  const sig = /signature="([^"]+)"/.exec(String(good.headers.authorization))![1]!;
  const variants: Record<string, string> = {
    truncated: Buffer.from(sig, "base64").subarray(0, 31).toString("base64"),
    longer: Buffer.concat([Buffer.from(sig, "base64"), Buffer.from([0])]).toString("base64"),
    oneByte: "AA==",
    sha512Length: Buffer.alloc(64, 1).toString("base64"),
  };
  for (const [name, v] of Object.entries(variants)) {
    const req = { ...good, headers: { ...good.headers, authorization: String(good.headers.authorization).replace(sig, v) } };
    t.notThrows(() => check(p, req), name);
    t.is(failed(check(p, req)).code, "hmac_bad_signature", name);
  }
  for (const bad of ["not base64!", "AAA", "A==="]) {
    const req = { ...good, headers: { ...good.headers, authorization: String(good.headers.authorization).replace(sig, bad) } };
    t.is(failed(check(p, req)).code, "hmac_malformed", bad);
  }
});

const BODY = Buffer.from('{"amount":100}');
const DIGEST = "SHA-256=" + createHash("sha256").update(BODY).digest("base64");

test("validate_request_body: needsBody, a signed Digest matching the body is required", (t) => {
  const p = provider({ validate_request_body: true });
  t.true(p.needsBody);
  const post = { method: "POST", body: BODY };
  const names = ["date", "request-line", "digest"];
  ok(t, check(p, signed({ headers: names }, post, { digest: DIGEST, "content-length": String(BODY.length) })));
  const wrongBody = signed({ headers: names }, { method: "POST", body: Buffer.from('{"amount":999}') }, { digest: DIGEST });
  t.is(failed(check(p, wrongBody)).code, "hmac_bad_digest");
  const noDigest = failed(check(p, signed({ headers: ["date", "request-line"] }, post)));
  t.is(noDigest.code, "hmac_bad_digest");
  t.regex(noDigest.reason, /Digest header is required/);
  // A Digest that is not signed proves nothing: refused.
  const unsigned = failed(check(p, signed({ headers: ["date", "request-line"] }, post, { digest: DIGEST })));
  t.is(unsigned.code, "hmac_bad_digest");
  t.regex(unsigned.reason, /covered by the signature/);
  // Kong's rule: no Digest and no body is fine.
  ok(t, check(p, signed({ headers: ["date", "request-line"] }, { body: Buffer.alloc(0) })));
  ok(t, check(p, signed({ headers: ["date", "request-line"] })));
  // A body the chain did not buffer cannot be checked.
  const notBuffered = signed({ headers: names }, { method: "POST" }, { digest: DIGEST, "content-length": "14" });
  t.is(failed(check(p, notBuffered)).code, "hmac_bad_digest");
  // Wrong digest format.
  const hex = "SHA-256=" + createHash("sha256").update(BODY).digest("hex");
  t.is(failed(check(p, signed({ headers: names }, post, { digest: hex }))).code, "hmac_bad_digest");
});

test("without validate_request_body the body and Digest are not looked at", (t) => {
  const p = provider();
  ok(t, check(p, signed({ headers: ["date", "request-line"] }, { method: "POST", body: BODY }, { digest: "SHA-256=wrong" })));
});

test("no secret, signature or credential value appears in any failure", (t) => {
  const p = provider({ enforce_headers: ["request-line"], validate_request_body: true });
  const good = signed({ headers: ["date", "request-line"] });
  const sig = /signature="([^"]+)"/.exec(String(good.headers.authorization))![1]!;
  const cases: FilterRequest[] = [
    signed({ secret: "wrong-secret-0123456789" }),
    signed({ user: "nobody" }),
    signed({ algorithm: "hmac-sha1" }),
    signed({ headers: ["date"] }),
    signed({}, { headers: {} }, { date: new Date(NOW - 3_600_000).toUTCString() }),
    { ...good, headers: { ...good.headers, authorization: String(good.headers.authorization) + ', extra="x"' } },
    { ...good, headers: { ...good.headers, authorization: String(good.headers.authorization).replace(`signature="${sig}"`, `signature="${sig}`) } },
    { ...good, headers: { ...good.headers, date: "yesterday" } },
    signed({ headers: ["date", "request-line"] }, { method: "POST", body: BODY }, { digest: DIGEST }),
  ];
  for (const req of cases) {
    const f = failed(check(p, req));
    const text = JSON.stringify(f);
    t.false(text.includes(SECRET), f.code);
    t.false(text.includes(sig), f.code);
    const cred = /signature="([^"]*)/.exec(String(req.headers.authorization))![1]!;
    if (cred.length > 0) t.false(text.includes(cred), f.code);
  }
});

test("warm verification stays under 1 ms per request even on a loaded machine (the benchmark measures the real figure)", (t) => {
  const clock = new FakeClock(NOW);
  const p = provider({ replay_window: "10m" }, clock);
  // Distinct signed requests, so the replay check runs (and records) on each.
  const reqs = Array.from({ length: 2000 }, (_, i) => signed({ headers: ["date", "request-line", "x-n"] }, {}, { "x-n": String(i) }));
  const warm = provider({ replay_window: "10m" }, clock);
  for (let i = 0; i < 200; i++) check(warm, signed({ headers: ["date", "x-n"] }, {}, { "x-n": String(i) }));
  const start = process.hrtime.bigint();
  for (const r of reqs) if (check(p, r).kind !== "ok") t.fail("expected ok");
  const avgUs = Number(process.hrtime.bigint() - start) / 1000 / reqs.length;
  t.true(avgUs < 1000, `average ${avgUs.toFixed(1)} µs`);
});
