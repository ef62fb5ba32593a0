/** The api_key provider (Kong key-auth) with a keys file of SHA-256 hashes, computed here with node:crypto. */
import test from "ava";
import { createHash } from "node:crypto";
import { mkdtempSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ApiKeyProvider, apiKeyProvider, hashApiKey, type ApiKeyConfigInput } from "../../../proxy/auth/api-key.js";
import { RELOAD_CHECK_MS } from "../../../proxy/auth/consumers.js";
import type { AuthFailed, AuthOk, AuthOutcome } from "../../../proxy/auth/types.js";
import { isProxyError } from "../../../proxy/errors.js";
import type { FilterRequest } from "../../../proxy/filters/types.js";
import { FakeClock, request } from "../filters/fixtures.js";

const NOW = Date.UTC(2026, 4, 1);
const CI_KEY = "ci-0123456789abcdefghijklmnopqrstuv";
const DEPLOY_KEY = "deploy-ZYXWVUTSRQPONMLKJIHGFEDCBA98";
const sha = (k: string) => createHash("sha256").update(k).digest("hex");

function keysDir(entries: Array<[string, string]>): string {
  const dir = mkdtempSync(join(tmpdir(), "api-key-"));
  writeKeys(dir, entries);
  return dir;
}

function writeKeys(dir: string, entries: Array<[string, string]>): void {
  const text = entries.map(([consumer, key]) => `- consumer: ${consumer}\n  key_sha256: "${sha(key)}"\n`).join("");
  writeFileSync(join(dir, "keys.tmp"), text || "[]\n", { mode: 0o600 });
  renameSync(join(dir, "keys.tmp"), join(dir, "api-keys.yaml"));
}

const DIR = keysDir([
  ["ci-bot", CI_KEY],
  ["deployer", DEPLOY_KEY],
]);

function provider(config: Partial<ApiKeyConfigInput> = {}, dir = DIR, clock = new FakeClock(NOW)): ApiKeyProvider {
  return apiKeyProvider.create("public-api", apiKeyProvider.schema.parse({ keys_file: "api-keys.yaml", ...config }), {
    clock: clock.now,
    baseDir: dir,
  }) as ApiKeyProvider;
}

function check(p: ApiKeyProvider, req: FilterRequest, ms = NOW): AuthOutcome {
  const o = p.authenticate(req, new Date(ms));
  if (o instanceof Promise) throw new Error("expected a synchronous outcome");
  return o;
}

function okOf(o: AuthOutcome): AuthOk {
  if (o.kind !== "ok") throw new Error(`expected ok, got ${o.kind === "fail" ? o.code : o.kind}`);
  return o;
}

function failOf(o: AuthOutcome): AuthFailed {
  if (o.kind !== "fail") throw new Error(`expected a failure, got ${o.kind}`);
  return o;
}

const withQuery = (query: string, headers: FilterRequest["headers"] = {}) => request({ path: "/v1/items", query, url: `/v1/items?${query}`, headers });

test("a key in the apikey header: consumer, method api_token, header stripped", (t) => {
  const o = okOf(check(provider(), request({ headers: { apikey: CI_KEY } })));
  t.is(o.principal, "ci-bot");
  t.is(o.consumer, "ci-bot");
  t.is(o.method, "api_token");
  t.deepEqual(o.stripHeaders, ["apikey"]);
  t.is(o.stripQuery, undefined);
  t.is(apiKeyProvider.type, "api_key");
  t.false(provider().needsBody);
});

test("a key in the query (percent-encoded or not): stripQuery names the parameter", (t) => {
  const p = provider();
  const o = okOf(check(p, withQuery(`page=2&apikey=${CI_KEY}`)));
  t.is(o.consumer, "ci-bot");
  t.deepEqual(o.stripQuery, ["apikey"]);
  t.is(o.stripHeaders, undefined);
  const encoded = CI_KEY.replace(/-/g, "%2D");
  t.is(okOf(check(p, withQuery(`ap%69key=${encoded}`))).consumer, "ci-bot");
});

test("hide_credentials: false strips nothing", (t) => {
  const p = provider({ hide_credentials: false });
  const o = okOf(check(p, request({ headers: { apikey: DEPLOY_KEY } })));
  t.is(o.consumer, "deployer");
  t.is(o.stripHeaders, undefined);
  t.is(o.stripQuery, undefined);
});

test("key_names: custom names; header names are case-insensitive, query names exact", (t) => {
  const p = provider({ key_names: ["X-API-Key", "api_key"] });
  t.deepEqual(okOf(check(p, request({ headers: { "x-api-key": CI_KEY } }))).stripHeaders, ["x-api-key"]);
  t.deepEqual(okOf(check(p, withQuery(`api_key=${CI_KEY}`))).stripQuery, ["api_key"]);
  t.is(check(p, withQuery(`API_KEY=${CI_KEY}`)).kind, "missing");
  t.is(check(p, request({ headers: { apikey: CI_KEY } })).kind, "missing", "the default name is not looked at");
});

test("key_in_header / key_in_query: false ignores that place", (t) => {
  const noHeader = provider({ key_in_header: false });
  t.is(check(noHeader, request({ headers: { apikey: CI_KEY } })).kind, "missing");
  t.is(okOf(check(noHeader, withQuery(`apikey=${CI_KEY}`))).consumer, "ci-bot");
  const noQuery = provider({ key_in_query: false });
  t.is(check(noQuery, withQuery(`apikey=${CI_KEY}`)).kind, "missing");
  t.is(okOf(check(noQuery, request({ headers: { apikey: CI_KEY } }))).consumer, "ci-bot");
  // Both off is a config error.
  t.false(apiKeyProvider.schema.safeParse({ keys_file: "k", key_in_header: false, key_in_query: false }).success);
});

test("absent or empty key: missing", (t) => {
  const p = provider();
  t.is(check(p, request()).kind, "missing");
  t.is(check(p, withQuery("page=1")).kind, "missing");
  t.is(check(p, withQuery("apikey=")).kind, "missing");
  t.is(check(p, withQuery("apikey")).kind, "missing");
  t.is(check(p, request({ headers: { apikey: "" } })).kind, "missing");
});

test("an unknown key: 401 api_key_invalid with a Key challenge, and no key in the reason", (t) => {
  const p = provider();
  for (const req of [request({ headers: { apikey: "wrong-key-0123456789" } }), withQuery("apikey=wrong-key-0123456789"), request({ headers: { apikey: "x".repeat(10_000) } })]) {
    const f = failOf(check(p, req));
    t.is(f.status, 401);
    t.is(f.code, "api_key_invalid");
    t.is(f.challenge, 'Key realm="public-api"');
    t.false(JSON.stringify(f).includes("wrong-key"));
    t.false(JSON.stringify(f).includes("xxxx"));
  }
  // A valid key with one character changed, or with spaces around it in the query, is not valid.
  t.is(failOf(check(p, request({ headers: { apikey: CI_KEY.slice(0, -1) + "w" } }))).code, "api_key_invalid");
  t.is(failOf(check(p, withQuery(`apikey=+${CI_KEY}`))).code, "api_key_invalid");
});

test("a key given more than once is api_key_ambiguous", (t) => {
  const p = provider({ key_names: ["apikey", "x-api-key"] });
  const cases: Array<[string, FilterRequest]> = [
    ["header and query", withQuery(`apikey=${CI_KEY}`, { apikey: CI_KEY })],
    ["repeated query parameter", withQuery(`apikey=${CI_KEY}&apikey=${DEPLOY_KEY}`)],
    ["repeated query parameter, one empty", withQuery(`apikey=&apikey=${CI_KEY}`)],
    ["repeated header (joined by Node)", request({ headers: { apikey: `${CI_KEY}, ${DEPLOY_KEY}` } })],
    ["repeated header (array)", request({ headers: { apikey: [CI_KEY, CI_KEY] as unknown as string } })],
    ["two key names", request({ headers: { apikey: CI_KEY, "x-api-key": DEPLOY_KEY } })],
    ["two key names in the query", withQuery(`apikey=${CI_KEY}&x-api-key=${CI_KEY}`)],
  ];
  for (const [what, req] of cases) {
    const f = failOf(check(p, req));
    t.is(f.code, "api_key_ambiguous", what);
    t.is(f.status, 401);
    t.is(f.challenge, 'Key realm="public-api"');
    t.false(f.reason.includes(CI_KEY) || f.reason.includes(DEPLOY_KEY), what);
  }
});

test("hashApiKey is the SHA-256 hex of the key and refuses keys that cannot be sent unambiguously", (t) => {
  t.is(hashApiKey(CI_KEY), sha(CI_KEY));
  t.is(hashApiKey("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  for (const bad of ["", "a,b", "a b", "tab\tkey", "\u00e9t\u00e9", "x".repeat(4097)]) t.throws(() => hashApiKey(bad), { instanceOf: RangeError }, JSON.stringify(bad.slice(0, 10)));
});

test("the keys file: several keys per consumer, upper-case hex accepted, bad entries refused", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "api-key-file-"));
  writeFileSync(join(dir, "api-keys.yaml"), `- { consumer: ci-bot, key_sha256: "${sha(CI_KEY).toUpperCase()}" }\n- { consumer: ci-bot, key_sha256: "${sha(DEPLOY_KEY)}" }\n`);
  const p = provider({}, dir);
  t.is(okOf(check(p, request({ headers: { apikey: CI_KEY } }))).consumer, "ci-bot");
  t.is(okOf(check(p, request({ headers: { apikey: DEPLOY_KEY } }))).consumer, "ci-bot");
  t.is(p.status().entries, 2);
  const bad: Array<[string, RegExp]> = [
    [`- { consumer: a, key_sha256: "${sha("k")}" }\n- { consumer: b, key_sha256: "${sha("k")}" }\n`, /\[1\]\.key_sha256: the same key is already listed at \[0\]/],
    [`- { consumer: a, key_sha256: "${CI_KEY}" }\n`, /\[0\]\.key_sha256: expected the key's SHA-256 as 64 hex digits/],
    [`- { consumer: a, key: "${CI_KEY}" }\n`, /\[0\]: Unrecognized key: "key"/],
    [`- { consumer: " a", key_sha256: "${sha("k")}" }\n`, /\[0\]\.consumer: a consumer name is printable ASCII/],
    [`{ consumer: a }\n`, /expected a list of \{ consumer, key_sha256 \}/],
  ];
  for (const [text, re] of bad) {
    writeFileSync(join(dir, "api-keys.yaml"), text);
    let msg = "";
    try {
      provider({}, dir);
    } catch (err) {
      t.true(isProxyError(err) && err.code === "invalid_config");
      msg = (err as Error).message;
    }
    t.regex(msg, re);
    t.regex(msg, /^api_key provider "public-api": /);
    t.false(msg.includes(CI_KEY));
  }
});

test("the keys file is reloaded on change: a removed key stops working, a new one starts", (t) => {
  const dir = keysDir([["ci-bot", CI_KEY]]);
  const clock = new FakeClock(NOW);
  const p = provider({}, dir, clock);
  t.is(okOf(check(p, request({ headers: { apikey: CI_KEY } }), NOW)).consumer, "ci-bot");
  writeKeys(dir, [["deployer", DEPLOY_KEY]]);
  t.is(check(p, request({ headers: { apikey: CI_KEY } }), NOW + 1).kind, "ok", "not re-checked before the interval");
  const later = NOW + RELOAD_CHECK_MS;
  t.is(failOf(check(p, request({ headers: { apikey: CI_KEY } }), later)).code, "api_key_invalid");
  t.is(okOf(check(p, request({ headers: { apikey: DEPLOY_KEY } }), later)).consumer, "deployer");
  // A broken file keeps the last good keys.
  writeFileSync(join(dir, "api-keys.yaml"), "- { consumer: x, key_sha256: nothex }\n");
  t.is(okOf(check(p, request({ headers: { apikey: DEPLOY_KEY } }), later + RELOAD_CHECK_MS)).consumer, "deployer");
  t.regex(p.status().lastError ?? "", /key_sha256/);
});

test("config validation: key names, duplicates, unknown keys", (t) => {
  const s = apiKeyProvider.schema;
  t.deepEqual(s.parse({ keys_file: "k" }), { keys_file: "k", key_names: ["apikey"], key_in_header: true, key_in_query: true, hide_credentials: true });
  t.false(s.safeParse({ keys_file: "k", key_names: [] }).success);
  t.false(s.safeParse({ keys_file: "k", key_names: ["bad name"] }).success);
  t.false(s.safeParse({ keys_file: "k", key_names: ["apikey", "ApiKey"] }).success);
  t.false(s.safeParse({ keys_file: "k", key_in_body: true }).success);
  t.false(s.safeParse({}).success);
});

test("warm lookups stay under 1 ms even on a loaded machine (the benchmark measures the real figure)", (t) => {
  const p = provider();
  const reqs = Array.from({ length: 2000 }, (_, i) => (i % 2 ? request({ headers: { apikey: CI_KEY } }) : withQuery(`a=1&apikey=${DEPLOY_KEY}&b=2`)));
  for (const r of reqs.slice(0, 200)) check(p, r);
  const start = process.hrtime.bigint();
  for (const r of reqs) if (check(p, r).kind !== "ok") t.fail();
  const avgUs = Number(process.hrtime.bigint() - start) / 1000 / reqs.length;
  t.true(avgUs < 1000, `average ${avgUs.toFixed(1)} µs`);
});
