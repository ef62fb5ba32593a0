import test from "ava";
import { createHash } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuthnFilter, authnFilter } from "../../../proxy/auth/authn-filter.js";
import type { AuthOutcome, AuthProvider, ProviderType } from "../../../proxy/auth/types.js";
import { FilterChain } from "../../../proxy/filters/chain.js";
import type { Denial, FilterRequest } from "../../../proxy/filters/types.js";
import { FakeClock, deps, issues, request } from "../filters/fixtures.js";

/** A provider that answers from the request's x-test-<name> header: absent → missing, "ok" → ok, else fail. */
function fake(name: string, type: ProviderType = "api_key"): AuthProvider {
  return {
    name,
    type,
    needsBody: false,
    missingChallenge: `Key realm="${name}"`,
    authenticate(req: FilterRequest): AuthOutcome {
      const v = req.headers[`x-test-${name}`];
      if (v === undefined) return { kind: "missing" };
      if (v === "ok") return { kind: "ok", principal: `user-${name}`, method: "api_token", consumer: `consumer-${name}`, stripHeaders: [`x-test-${name}`], stripQuery: ["apikey"], setHeaders: { [`x-from-${name}`]: "1" } };
      return { kind: "fail", status: 401, code: `${name}_bad`, reason: `bad ${name} credential`, challenge: `Key realm="${name}"` };
    },
  };
}

function filter(rules: Array<{ routes: string[]; mode: "any" | "all"; providers: string[]; allowMissing?: boolean }>) {
  const providers = new Map(["a", "b"].map((n) => [n, fake(n)]));
  return new AuthnFilter(
    rules.map((r) => ({ routes: r.routes, rule: { mode: r.mode, providers: r.providers.map((n) => providers.get(n)!), allowMissing: r.allowMissing ?? false } })),
    ["x-consumer-username", "x-user-id"],
    [...providers.values()],
    new FakeClock().now,
  );
}

const run = (f: AuthnFilter, req: FilterRequest): Denial | undefined => {
  const d = f.onRequest(req);
  if (d instanceof Promise) throw new Error("fake providers are synchronous");
  return d;
};

test("any-of: one valid credential passes and sets the identity; none → 401 auth_required with a challenge per provider", (t) => {
  const f = filter([{ routes: ["api"], mode: "any", providers: ["a", "b"] }]);
  const ok = request({ route: "api", headers: { "x-test-b": "ok" } });
  t.is(run(f, ok), undefined);
  t.deepEqual(ok.auth, { principal: "user-b", method: "api_token" });
  t.is(ok.headers["x-consumer-username"], "consumer-b");
  const none = run(f, request({ route: "api" }));
  t.is(none?.status, 401);
  t.is(none?.code, "auth_required");
  t.is(none?.component, "auth");
  t.regex(none?.headers?.["www-authenticate"] ?? "", /realm="a".*realm="b"/);
});

test("any-of: a bad credential fails unless another provider verified one", (t) => {
  const f = filter([{ routes: ["api"], mode: "any", providers: ["a", "b"] }]);
  t.is(run(f, request({ route: "api", headers: { "x-test-a": "forged" } }))?.code, "a_bad");
  t.is(run(f, request({ route: "api", headers: { "x-test-a": "forged", "x-test-b": "ok" } })), undefined);
});

test("all-of: every provider must verify; a missing one fails even when the other is valid", (t) => {
  const f = filter([{ routes: ["admin"], mode: "all", providers: ["a", "b"] }]);
  t.is(run(f, request({ route: "admin", headers: { "x-test-a": "ok", "x-test-b": "ok" } })), undefined);
  const partial = run(f, request({ route: "admin", headers: { "x-test-a": "ok" } }));
  t.is(partial?.status, 401);
  t.regex(partial?.reason ?? "", /not every required credential/);
  t.is(run(f, request({ route: "admin", headers: { "x-test-a": "ok", "x-test-b": "no" } }))?.code, "b_bad");
});

test("allow_missing: no credential passes without an identity, a bad one still fails", (t) => {
  const f = filter([{ routes: ["catalog"], mode: "any", providers: ["a"], allowMissing: true }]);
  const anon = request({ route: "catalog" });
  t.is(run(f, anon), undefined);
  t.is(anon.auth, undefined);
  t.is(run(f, request({ route: "catalog", headers: { "x-test-a": "bad" } }))?.status, 401);
});

test("routes no rule names pass; the first rule naming a route wins, * included", (t) => {
  const f = filter([
    { routes: ["public-x"], mode: "any", providers: ["b"], allowMissing: true },
    { routes: ["*"], mode: "any", providers: ["a"] },
    { routes: ["public-x", "later"], mode: "any", providers: ["b"] },
  ]);
  t.is(run(f, request({ route: "public-x" })), undefined);
  t.is(run(f, request({ route: "later" }))?.code, "auth_required", "the * rule comes first for 'later'");
  const g = filter([{ routes: ["api"], mode: "any", providers: ["a"] }]);
  t.is(run(g, request({ route: "health" })), undefined);
});

test("client-sent identity headers are removed on every request; credentials are stripped; query credentials removed", (t) => {
  const f = filter([{ routes: ["api"], mode: "any", providers: ["a"] }]);
  const unauth = request({ route: "open", headers: { "x-consumer-username": "admin", "x-user-id": "0" } });
  t.is(run(f, unauth), undefined);
  t.is(unauth.headers["x-consumer-username"], undefined);
  t.is(unauth.headers["x-user-id"], undefined);
  const req = request({ route: "api", url: "/api/x?apikey=s3cret&keep=1", headers: { "x-test-a": "ok", "x-consumer-username": "admin" } });
  t.is(run(f, req), undefined);
  t.is(req.headers["x-test-a"], undefined, "credential header stripped");
  t.is(req.headers["x-consumer-username"], "consumer-a", "set by the proxy, not the client");
  t.is(req.headers["x-from-a"], "1");
  t.is(req.url, "/api/x?keep=1");
});

test("denials are audited by the chain under component auth with provider, route and client, and no credential", (t) => {
  const d = deps();
  const f = filter([{ routes: ["api"], mode: "any", providers: ["a"] }]);
  const chain = new FilterChain([f], { audit: d.audit });
  const v = chain.run(request({ route: "api", headers: { "x-test-a": "TOPSECRET" } }));
  if (v instanceof Promise) throw new Error("sync");
  t.is(v?.denial.status, 401);
  t.is(d.events.length, 1);
  const e = d.events[0]!;
  t.is(e.component, "auth");
  t.is(e.action, "authn.deny");
  t.is((e.details as Record<string, unknown>).provider, "a");
  t.is((e.details as Record<string, unknown>).client, "10.1.2.3");
  t.false(JSON.stringify(e).includes("TOPSECRET"));
});

test("schema: unknown provider type, a rule naming an unknown provider and a bad provider block are refused with key paths", (t) => {
  t.true(issues(authnFilter, { providers: { x: { kerberos: {} } }, rules: [] }).some((l) => l.startsWith("providers.x.kerberos") && /unknown provider type/.test(l)));
  t.true(issues(authnFilter, { providers: {}, rules: [{ routes: ["a"], require: "nope" }] }).some((l) => /rules.0.require.0: unknown provider "nope"/.test(l)));
  t.true(issues(authnFilter, { providers: { k: { api_key: { keys_file: 7 } } }, rules: [] }).some((l) => l.startsWith("providers.k.api_key.keys_file")));
  t.true(issues(authnFilter, { providers: { k: { api_key: {}, basic: {} } }, rules: [] }).some((l) => /exactly one provider type/.test(l)));
  t.true(issues(authnFilter, { providers: {}, rules: [], surprise: 1 }).length > 0);
});

test("built from config with a real API-key provider: key in header passes, the key never reaches the upstream", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "authn-"));
  const key = "k-0123456789abcdef";
  writeFileSync(join(dir, "keys.yaml"), `- consumer: ci-bot\n  key_sha256: "${createHash("sha256").update(key).digest("hex")}"\n`);
  const d = { ...deps(), baseDir: dir };
  const parsed = authnFilter.schema.parse({ providers: { bots: { api_key: { keys_file: "keys.yaml" } } }, rules: [{ routes: ["api"], require: "bots" }] });
  const f = authnFilter.create(parsed, d);
  t.teardown(() => f.close?.());
  const req = request({ route: "api", headers: { apikey: key } });
  const r = f.onRequest(req);
  t.is(r instanceof Promise ? "async" : r, undefined);
  t.is(req.auth?.principal, "ci-bot");
  t.is(req.headers.apikey, undefined);
  t.is(req.headers["x-consumer-username"], "ci-bot");
});

test("a failure that would reveal whether a user exists is answered vaguely but audited in full", (t) => {
  const who: AuthProvider = {
    name: "partners",
    type: "hmac",
    needsBody: false,
    missingChallenge: 'hmac realm="partners"',
    authenticate: () => ({ kind: "fail", status: 401, code: "hmac_unknown_user", reason: 'unknown hmac user "mallory"', principal: "mallory", publicCode: "hmac_bad_signature", publicMessage: "the request signature is not valid" }),
  };
  const f = new AuthnFilter([{ routes: ["*"], rule: { mode: "any", providers: [who], allowMissing: false } }], [], [who], new FakeClock().now);
  const d = run(f, request({ route: "p" }));
  t.is(d?.code, "hmac_unknown_user");
  t.is(d?.publicCode, "hmac_bad_signature");
  t.false((d?.publicMessage ?? "").includes("mallory"));
});
