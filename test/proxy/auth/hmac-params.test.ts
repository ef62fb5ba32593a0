/** Parsing the hmac credentials: Kong's format, and malformed or oversized input refused with hmac_malformed. */
import test from "ava";
import { createHmac } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hmacProvider } from "../../../proxy/auth/hmac.js";
import { HMAC_PARAM_LIMITS, isHmacScheme, parseHmacCredentials } from "../../../proxy/auth/hmac-params.js";
import type { AuthOutcome, AuthProvider } from "../../../proxy/auth/types.js";
import { FakeClock, request } from "../filters/fixtures.js";

const SECRET = "carol-secret-0123456789abcdef";
const NOW = Date.UTC(2026, 2, 3, 4, 5, 6);
const DATE = new Date(NOW).toUTCString();
const SIG = createHmac("sha256", SECRET).update(`date: ${DATE}`).digest("base64");

const dir = mkdtempSync(join(tmpdir(), "hmac-params-"));
writeFileSync(join(dir, "c.yaml"), `- { username: carol, secret: "${SECRET}" }\n`, { mode: 0o600 });
const clock = new FakeClock(NOW);
const p: AuthProvider = hmacProvider.create("p", hmacProvider.schema.parse({ consumers_file: "c.yaml", replay_window: "0s" }), {
  clock: clock.now,
  baseDir: dir,
});

function outcome(authorization: string): AuthOutcome {
  const o = p.authenticate(request({ headers: { date: DATE, authorization } }), new Date(NOW));
  if (o instanceof Promise) throw new Error("expected a synchronous outcome");
  return o;
}

function code(authorization: string): string {
  const o = outcome(authorization);
  return o.kind === "fail" ? o.code : o.kind;
}

test("Kong's exact layout parses; names are lower-cased and split on single spaces", (t) => {
  const r = parseHmacCredentials('hmac username="alice", algorithm="hmac-sha256", headers="Date Request-Line X-Foo", signature="c2ln"');
  t.deepEqual(r, { ok: true, params: { username: "alice", algorithm: "hmac-sha256", headers: ["date", "request-line", "x-foo"], signature: "c2ln" } });
});

test("parameters in any order, with or without spaces after commas, are accepted", (t) => {
  for (const v of [
    `hmac username="carol", algorithm="hmac-sha256", headers="date", signature="${SIG}"`,
    `hmac signature="${SIG}",headers="date",algorithm="hmac-sha256",username="carol"`,
    `HMAC   username = "carol" ,\talgorithm="hmac-sha256", signature="${SIG}"`,
    `hmac username="carol", algorithm="hmac-sha256", signature="${SIG}",`,
  ]) {
    t.is(code(v), "ok", v);
  }
});

test("isHmacScheme: the word hmac, any case, followed by whitespace or nothing", (t) => {
  t.true(isHmacScheme("hmac x"));
  t.true(isHmacScheme("HMAC\tx"));
  t.true(isHmacScheme("hmac"));
  t.false(isHmacScheme("hmac-sha256 x"));
  t.false(isHmacScheme("Bearer hmac"));
  t.false(isHmacScheme("Basic aG1hYw=="));
});

test("malformed credentials are hmac_malformed, and the reason names the problem", (t) => {
  const cases: Array<[string, RegExp]> = [
    ["hmac", /"username" is missing/],
    [`hmac username="carol", algorithm="hmac-sha256", signature="${SIG}`, /"signature" has no closing quote/],
    [`hmac username="carol, algorithm="hmac-sha256", signature="${SIG}"`, /expected ","|unknown|closing quote/],
    [`hmac username="carol", username="dave", algorithm="hmac-sha256", signature="${SIG}"`, /"username" is given twice/],
    [`hmac username="carol", algorithm="hmac-sha256", signature="${SIG}", keyId="x"`, /unknown parameter "keyid"/],
    [`hmac username=carol, algorithm="hmac-sha256", signature="${SIG}"`, /not a quoted string/],
    [`hmac username="carol" algorithm="hmac-sha256" signature="${SIG}"`, /expected ","/],
    [`hmac username="carol", algorithm="hmac-sha256"`, /"signature" is missing/],
    [`hmac username="", algorithm="hmac-sha256", signature="${SIG}"`, /"username" is missing or empty/],
    [`hmac username="carol", algorithm="hmac-sha256", headers="", signature="${SIG}"`, /"headers" is empty/],
    [`hmac username="carol", algorithm="hmac-sha256", headers="date  request-line", signature="${SIG}"`, /empty name/],
    [`hmac username="carol", algorithm="hmac-sha256", headers="date bad:name", signature="${SIG}"`, /invalid header name/],
    [`hmac username="ca\\"rol", algorithm="hmac-sha256", signature="${SIG}"`, /not allowed/],
    [`hmac username="car\u00e9l", algorithm="hmac-sha256", signature="${SIG}"`, /not allowed/],
    [`hmac username="carol", algorithm="hmac-sha256", signature="${SIG}" ; x`, /expected ","/],
    [`hmac username="carol", =, signature="${SIG}"`, /unexpected character/],
  ];
  for (const [value, reason] of cases) {
    const o = outcome(value);
    t.is(o.kind, "fail", value);
    if (o.kind !== "fail") continue;
    t.is(o.code, "hmac_malformed", value);
    t.regex(o.reason, reason, value);
    t.is(o.status, 401);
    t.is(o.challenge, 'hmac realm="p"');
  }
});

test("huge values are bounded: the header, each parameter, and the number of signed names", (t) => {
  const start = process.hrtime.bigint();
  const huge = `hmac username="carol", algorithm="hmac-sha256", signature="${"A".repeat(1_000_000)}"`;
  t.is(code(huge), "hmac_malformed");
  const r = parseHmacCredentials(huge);
  t.true(!r.ok && r.error.includes(`longer than ${HMAC_PARAM_LIMITS.headerLength}`));
  t.true(Number(process.hrtime.bigint() - start) / 1e6 < 200, "refused without scanning the whole value");
  const longSig = parseHmacCredentials(`hmac username="carol", algorithm="hmac-sha256", signature="${"A".repeat(300)}"`);
  t.true(!longSig.ok && longSig.error.includes('"signature" is longer than 256'));
  const longUser = parseHmacCredentials(`hmac username="${"u".repeat(300)}", algorithm="hmac-sha256", signature="AAAA"`);
  t.true(!longUser.ok && longUser.error.includes('"username" is longer than 256'));
  const many = Array.from({ length: 65 }, (_, i) => `x-h${i}`).join(" ");
  const manyNames = parseHmacCredentials(`hmac username="carol", algorithm="hmac-sha256", headers="${many}", signature="AAAA"`);
  t.true(!manyNames.ok && manyNames.error.includes("more than 64 names"));
  const longName = parseHmacCredentials(`hmac ${"k".repeat(40)}="v", username="carol", algorithm="hmac-sha256", signature="AAAA"`);
  t.true(!longName.ok && longName.error.includes("too long"));
});

test("parser errors never echo a value, only parameter names", (t) => {
  const secretish = "S3cr3tSignatureValue";
  for (const v of [
    `hmac username="carol", algorithm="hmac-sha256", signature="${secretish}`,
    `hmac username="carol", algorithm="hmac-sha256", signature="${secretish}", signature="${secretish}"`,
    `hmac username="carol", algorithm="hmac-sha256", signature="${secretish}${"x".repeat(300)}"`,
    `hmac username="carol", algorithm="hmac-sha256", signature="AAAA", zz="${secretish}"`,
    `hmac username="carol", algorithm="hmac-sha256", signature="${secretish}\u0001"`,
  ]) {
    const r = parseHmacCredentials(v);
    t.false(r.ok, v);
    if (!r.ok) t.false(r.error.includes(secretish), r.error);
  }
});
