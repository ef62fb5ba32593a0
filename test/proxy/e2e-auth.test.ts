/**
 * The demo mesh's request authentication, end to end: one `mesh up` for the
 * whole file, driven by real clients (curl, a Kong-style HMAC signer on
 * node:crypto, jose-signed JWTs). Covers each protected route's success and
 * refusals, the Basic lockout, what the audit log records and that no
 * credential ends up in it. The demo apps do not echo request headers, so
 * identity-header removal and credential stripping are checked on the
 * demo's own authn config, built in-process (see the last tests).
 */
import test from "ava";
import Database from "better-sqlite3";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { JWK } from "jose";
import { parse as parseYaml } from "yaml";
import { NullAuditSink } from "../../audit/memory.js";
import { authnFilter } from "../../proxy/auth/authn-filter.js";
import type { FilterRequest, HttpFilter } from "../../proxy/filters/types.js";
import { waitFor } from "../helpers/agent-env.js";
import { curl, errorCode, hmacAuthorization, httpDate, signEs256, unsignedJwt, type CurlResult, type TokenClaims } from "../helpers/auth-clients.js";
import { MESH_BIN, removeDir, runAsync, tempDir } from "../helpers/env.js";

interface UpJson {
  ingress_url: string;
  audit_db: string;
  demo_credentials: string;
  config_dir: string;
  logs_dir: string;
}

interface Creds {
  jwt: { issuer: string; audience: string; kid: string; private_jwk_file: string };
  hmac: { username: string; secret: string };
  basic: { username: string; password: string };
  apikey: { header: string; key: string };
}

const dir = tempDir("mesh-auth-e2e-");
let child: ChildProcess | undefined;
let log = "";
let up: UpJson;
let creds: Creds;
let jwk: JWK;
/** Every credential sent during the run (tokens, passwords, signatures, keys): none may reach the audit log. */
const secrets = new Set<string>();

const url = (path: string): string => `${up.ingress_url}${path}`;
const nowS = (): number => Math.floor(Date.now() / 1000);
const claims = (o: Partial<TokenClaims> = {}): TokenClaims => ({ iss: creds.jwt.issuer, aud: creds.jwt.audience, sub: "user-42", iat: nowS(), exp: nowS() + 300, ...o });
const show = (r: CurlResult): string => `status ${r.status} exit ${r.exit} ${r.stderr} ${JSON.stringify(r.headers)} ${r.body}`;

async function token(o: Partial<TokenClaims> = {}): Promise<string> {
  const t = await signEs256(jwk, claims(o));
  secrets.add(t);
  secrets.add(t.slice(t.lastIndexOf(".") + 1));
  return t;
}

function signed(target: string, o: { secret?: string; date?: Date } = {}): string[] {
  const date = httpDate(o.date ?? new Date());
  const h = hmacAuthorization({ username: creds.hmac.username, secret: o.secret ?? creds.hmac.secret, method: "GET", target, date });
  secrets.add(h.signature);
  return [`Date: ${date}`, `Authorization: ${h.authorization}`];
}

function basic(password: string): string {
  secrets.add(password);
  secrets.add(Buffer.from(`${creds.basic.username}:${password}`).toString("base64"));
  return `${creds.basic.username}:${password}`;
}

function demoPids(): number[] {
  const run = join(dir, "run");
  if (!existsSync(run)) return [];
  return readdirSync(run)
    .filter((f) => f.endsWith(".json"))
    .flatMap((f) => {
      try {
        return [(JSON.parse(readFileSync(join(run, f), "utf8")) as { pid: number }).pid];
      } catch {
        return [];
      }
    });
}

/** Sends sig (0: only probes); false when the process is gone. */
function signal(pid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

test.before(async () => {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("MESH_")) env[k] = v;
  const c = spawn(process.execPath, [MESH_BIN, "up", "--dir", dir, "--log-level", "warn"], { env, stdio: ["ignore", "pipe", "pipe"] });
  child = c;
  // If the worker dies (an uncaught error skips test.after.always), take the whole mesh down with it.
  process.once("exit", () => {
    if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    for (const p of demoPids()) signal(p, "SIGKILL");
    removeDir(dir);
  });
  c.stdout.on("data", (d: Buffer) => (log += d.toString()));
  c.stderr.on("data", (d: Buffer) => (log += d.toString()));
  up = await waitFor(
    () => {
      if (c.exitCode !== null || c.signalCode !== null) throw new Error(`mesh up exited (${c.exitCode ?? c.signalCode}): ${log}`);
      try {
        return JSON.parse(readFileSync(join(dir, "up.json"), "utf8")) as UpJson;
      } catch {
        return undefined;
      }
    },
    60_000,
    "up.json",
  );
  creds = JSON.parse(readFileSync(up.demo_credentials, "utf8")) as Creds;
  jwk = JSON.parse(readFileSync(creds.jwt.private_jwk_file, "utf8")) as JWK;
  for (const s of [creds.hmac.secret, creds.basic.password, creds.apikey.key, jwk.d ?? ""]) if (s) secrets.add(s);
});

test.after.always(async () => {
  const pids = demoPids();
  const c = child;
  if (c && c.exitCode === null && c.signalCode === null) {
    const exited = new Promise<void>((r) => c.once("exit", () => r()));
    c.kill("SIGTERM");
    const timer = setTimeout(() => c.kill("SIGKILL"), 15_000);
    await exited;
    clearTimeout(timer);
  }
  // mesh up stops its children on SIGTERM; after a SIGKILL they would be orphans.
  await waitFor(() => pids.every((p) => !signal(p, 0)), 3000, "demo children to exit").catch(() => undefined);
  for (const p of pids) signal(p, "SIGKILL");
  removeDir(dir);
});

test.serial("public route: 200 without any credential", async (t) => {
  const r = await curl(url("/"));
  t.is(r.status, 200, show(r));
  t.is((JSON.parse(r.body) as { service: string }).service, "frontend");
});

test.serial("/api/: no token is 401 with a Bearer challenge", async (t) => {
  const r = await curl(url("/api/x"));
  t.is(r.status, 401, show(r));
  t.regex(r.headers["www-authenticate"] ?? "", /^Bearer /);
  t.is(errorCode(r.body), "auth_required");
});

test.serial("/api/: a valid ES256 token is let through", async (t) => {
  const r = await curl(url("/api/x"), { headers: [`Authorization: Bearer ${await token()}`] });
  t.is(r.status, 200, show(r));
  t.is((JSON.parse(r.body) as { service: string }).service, "frontend");
});

test.serial("/api/: expired, wrong-audience and alg:none tokens are 401", async (t) => {
  const expired = await curl(url("/api/x"), { headers: [`Authorization: Bearer ${await token({ iat: nowS() - 3600, exp: nowS() - 600 })}`] });
  t.is(expired.status, 401, show(expired));
  t.is(errorCode(expired.body), "jwt_expired");
  t.regex(expired.headers["www-authenticate"] ?? "", /^Bearer /);

  const aud = await curl(url("/api/x"), { headers: [`Authorization: Bearer ${await token({ aud: "some-other-api" })}`] });
  t.is(aud.status, 401, show(aud));
  t.is(errorCode(aud.body), "jwt_wrong_audience");

  const none = unsignedJwt(claims(), creds.jwt.kid);
  secrets.add(none);
  const unsigned = await curl(url("/api/x"), { headers: [`Authorization: Bearer ${none}`] });
  t.is(unsigned.status, 401, show(unsigned));
  t.is(errorCode(unsigned.body), "jwt_alg_none");
});

test.serial("/api/: a valid token in a query parameter is not accepted (only the header is configured)", async (t) => {
  const tok = await token();
  for (const param of ["access_token", "token", "jwt"]) {
    const r = await curl(url(`/api/x?${param}=${tok}`));
    t.not(r.status, 200, `${param}: ${show(r)}`);
    t.is(r.status, 401, `${param}: ${show(r)}`);
  }
});

test.serial("/partner/: a Kong hmac-auth signature is let through", async (t) => {
  const r = await curl(url("/partner/x"), { headers: signed("/partner/x") });
  t.is(r.status, 200, show(r));
});

test.serial("/partner/: wrong secret and a 10-minute-old Date are 401", async (t) => {
  const wrong = await curl(url("/partner/wrong"), { headers: signed("/partner/wrong", { secret: "not-the-partner-secret-at-all-0123" }) });
  t.is(wrong.status, 401, show(wrong));
  t.is(errorCode(wrong.body), "hmac_bad_signature");
  t.regex(wrong.headers["www-authenticate"] ?? "", /^hmac realm=/);

  const stale = await curl(url("/partner/stale"), { headers: signed("/partner/stale", { date: new Date(Date.now() - 10 * 60_000) }) });
  t.is(stale.status, 401, show(stale));
  t.is(errorCode(stale.body), "hmac_clock_skew");
});

test.serial("/partner/: the same signed request replayed is 401 the second time", async (t) => {
  const headers = signed("/partner/replay");
  const first = await curl(url("/partner/replay"), { headers });
  t.is(first.status, 200, show(first));
  const again = await curl(url("/partner/replay"), { headers });
  t.is(again.status, 401, show(again));
  t.is(errorCode(again.body), "hmac_replay");
});

test.serial("/admin/: right password 200, wrong password 401 with a Basic challenge", async (t) => {
  const ok = await curl(url("/admin/"), { basic: basic(creds.basic.password) });
  t.is(ok.status, 200, show(ok));
  const bad = await curl(url("/admin/"), { basic: basic("wrong-password-0") });
  t.is(bad.status, 401, show(bad));
  t.is(errorCode(bad.body), "basic_invalid");
  t.regex(bad.headers["www-authenticate"] ?? "", /^Basic realm="demo admin"/);
});

test.serial("/admin/: guesses are slowed down, then locked out with 429 and Retry-After, even for the right password", async (t) => {
  // Defaults: slow after 3, lock at 10 failures. One failure is already counted (previous test); 12
  // different guesses at once: each is counted before it is checked, so exactly 9 are checked (401)
  // and the rest meet the lock (429). The guess that reached the lock waits the capped 5 s.
  const burst = await Promise.all(Array.from({ length: 12 }, (_, i) => curl(url("/admin/"), { basic: basic(`guess-${i}-${nowS()}`), maxTimeSeconds: 20 })));
  const denied = burst.filter((r) => r.status === 401);
  const locked = burst.filter((r) => r.status === 429);
  t.is(denied.length + locked.length, burst.length, burst.map(show).join("\n"));
  t.is(denied.length, 9, burst.map(show).join("\n"));
  t.is(locked.length, 3);
  for (const r of locked) {
    t.is(errorCode(r.body), "basic_locked_out");
    const after = Number(r.headers["retry-after"]);
    t.true(Number.isInteger(after) && after >= 1 && after <= 15 * 60, `Retry-After ${r.headers["retry-after"]}`);
    t.true(r.seconds < 4, `a locked-out answer is not slowed down (${r.seconds}s)`);
  }
  const slowest = Math.max(...denied.map((r) => r.seconds));
  t.true(slowest >= 4.9 && slowest < 15, `slowest 401 took ${slowest}s`);

  const right = await curl(url("/admin/"), { basic: basic(creds.basic.password) });
  t.is(right.status, 429, show(right));
  t.truthy(right.headers["retry-after"]);
});

test.serial("/keyed/: valid key 200, wrong key 401, key in both header and query 401", async (t) => {
  const key = creds.apikey.key;
  const ok = await curl(url("/keyed/"), { headers: [`${creds.apikey.header}: ${key}`] });
  t.is(ok.status, 200, show(ok));
  const wrongKey = `demo_${"x".repeat(32)}`;
  secrets.add(wrongKey);
  const wrong = await curl(url("/keyed/"), { headers: [`${creds.apikey.header}: ${wrongKey}`] });
  t.is(wrong.status, 401, show(wrong));
  t.is(errorCode(wrong.body), "api_key_invalid");
  t.regex(wrong.headers["www-authenticate"] ?? "", /^Key realm=/);
  const both = await curl(url(`/keyed/?${creds.apikey.header}=${encodeURIComponent(key)}`), { headers: [`${creds.apikey.header}: ${key}`] });
  t.is(both.status, 401, show(both));
  t.is(errorCode(both.body), "api_key_ambiguous");
});

test.serial("access log: a forged x-consumer-username gives no identity; a verified one does", async (t) => {
  const forged = await curl(url("/"), { headers: ["x-consumer-username: admin", "x-user-id: admin"] });
  t.is(forged.status, 200, show(forged));
  const forgedId = (JSON.parse(forged.body) as { request_id: string }).request_id;
  const keyed = await curl(url("/keyed/"), { headers: [`${creds.apikey.header}: ${creds.apikey.key}`] });
  t.is(keyed.status, 200, show(keyed));
  const keyedId = (JSON.parse(keyed.body) as { request_id: string }).request_id;
  const file = join(up.logs_dir, "ingress-access.log");
  const entries = await waitFor(
    () => {
      if (!existsSync(file)) return undefined;
      const lines = readFileSync(file, "utf8").split("\n").filter((l) => l.startsWith("{"));
      const byId = new Map(lines.map((l) => JSON.parse(l) as { request_id?: string; user?: string }).map((e) => [e.request_id, e]));
      const a = byId.get(forgedId);
      const b = byId.get(keyedId);
      return a && b ? { forged: a, keyed: b } : undefined;
    },
    5000,
    "both access log entries",
  );
  t.is(entries.forged.user, undefined);
  t.is(entries.keyed.user, "ci-bot");
});

/** The demo ingress's authn filter, built from the config file mesh up wrote (same credential files). */
function demoAuthn(): HttpFilter {
  const cfg = parseYaml(readFileSync(join(up.config_dir, "ingress.yaml"), "utf8")) as { listeners: Array<{ filters: Array<Record<string, unknown>> }> };
  const block = cfg.listeners[0]!.filters.find((f) => "authn" in f)!.authn;
  return authnFilter.create(authnFilter.schema.parse(block), { clock: () => new Date(), audit: new NullAuditSink(), listenerName: "ingress", listener: "ingress", baseDir: up.config_dir });
}

function request(route: string, target: string, headers: Record<string, string>): FilterRequest {
  const q = target.indexOf("?");
  return {
    method: "GET",
    url: target,
    path: q < 0 ? target : target.slice(0, q),
    query: q < 0 ? "" : target.slice(q + 1),
    host: "127.0.0.1",
    port: 80,
    headers: { ...headers },
    listener: "ingress",
    listenerName: "ingress",
    route,
    remoteAddress: "10.9.8.7",
    requestId: "unit",
  };
}

test.serial("identity headers a client sends never reach the upstream (demo authn config, in-process: the demo apps do not echo headers)", async (t) => {
  const f = demoAuthn();
  t.teardown(() => f.close?.());
  const forged = { "x-consumer-username": "admin", "x-jwt-payload": "e30", "x-user-id": "admin" };
  const pub = request("public", "/", forged);
  t.is(await f.onRequest(pub), undefined);
  // a removed header is set to undefined (see FilterRequest): nothing with a value is left
  t.deepEqual(Object.keys(pub.headers).filter((k) => pub.headers[k] !== undefined), []);

  // A verified identity replaces the forged one.
  const keyed = request("keyed", "/keyed/", { ...forged, apikey: creds.apikey.key });
  t.is(await f.onRequest(keyed), undefined);
  t.is(keyed.headers["x-consumer-username"], "ci-bot");
  t.is(keyed.headers["x-user-id"], undefined);
  t.is(keyed.headers["x-jwt-payload"], undefined);

  const api = request("api", "/api/x", { ...forged, authorization: `Bearer ${await token({ sub: "alice" })}` });
  t.is(await f.onRequest(api), undefined);
  t.is(api.headers["x-user-id"], "alice");
  t.is(api.headers["x-consumer-username"], undefined);
});

test.serial("credentials are not forwarded (demo authn config, in-process: the demo apps do not echo headers)", async (t) => {
  const f = demoAuthn();
  t.teardown(() => f.close?.());
  const api = request("api", "/api/x", { authorization: `Bearer ${await token()}` });
  t.is(await f.onRequest(api), undefined);
  t.false((api.headers["authorization"] !== undefined));

  const partner = request("partner", "/partner/unit", {});
  const [dateLine, authLine] = signed("/partner/unit");
  partner.headers.date = dateLine!.slice("Date: ".length);
  partner.headers.authorization = authLine!.slice("Authorization: ".length);
  t.is(await f.onRequest(partner), undefined);
  t.false((partner.headers["authorization"] !== undefined));
  t.is(partner.headers["x-consumer-username"], creds.hmac.username);

  // A fresh filter has no lockout state, so the right password passes here.
  const admin = request("admin", "/admin/", { authorization: `Basic ${Buffer.from(`${creds.basic.username}:${creds.basic.password}`).toString("base64")}` });
  t.is(await f.onRequest(admin), undefined);
  t.false((admin.headers["authorization"] !== undefined));
  t.is(admin.headers["x-consumer-username"], creds.basic.username);

  const inHeader = request("keyed", "/keyed/", { apikey: creds.apikey.key });
  t.is(await f.onRequest(inHeader), undefined);
  t.false((inHeader.headers["apikey"] !== undefined));

  const inQuery = request("keyed", `/keyed/list?page=2&apikey=${encodeURIComponent(creds.apikey.key)}&sort=asc`, {});
  t.is(await f.onRequest(inQuery), undefined);
  t.is(inQuery.url, "/keyed/list?page=2&sort=asc");
});

test.serial("audit: the chain verifies, every refusal is an auth event, and no credential is in the log", async (t) => {
  const v = await runAsync(process.execPath, [MESH_BIN, "audit", "verify", "--db", up.audit_db]);
  t.is(v.status, 0, v.stdout + v.stderr);
  t.regex(v.stdout, /^ok: /);

  const wanted = ["auth_required", "jwt_expired", "jwt_wrong_audience", "jwt_alg_none", "hmac_bad_signature", "hmac_clock_skew", "hmac_replay", "basic_invalid", "basic_locked_out", "api_key_invalid", "api_key_ambiguous"];
  const db = new Database(up.audit_db, { readonly: true, fileMustExist: true });
  t.teardown(() => db.close());
  const auth = db.prepare("SELECT action, outcome, details FROM events WHERE component = 'auth'").all() as Array<{ action: string; outcome: string; details: string }>;
  const codes = new Set(auth.map((e) => (JSON.parse(e.details) as { code?: string }).code));
  t.deepEqual(
    wanted.filter((c) => !codes.has(c)),
    [],
    `auth codes seen: ${[...codes].join(", ")}`,
  );
  t.true(auth.every((e) => e.action === "authn.deny" && e.outcome === "deny"));
  const providers = new Set(auth.map((e) => (JSON.parse(e.details) as { provider?: string }).provider));
  for (const p of ["demo-jwt", "demo-hmac", "demo-basic", "demo-key"]) t.true(providers.has(p), `no event names provider ${p}`);

  const rows = db.prepare("SELECT * FROM events").all() as Array<Record<string, unknown>>;
  t.true(rows.length > auth.length);
  const text = rows.map((r) => Object.values(r).map(String).join("\u0000")).join("\n");
  // Control: the scanned text is the events themselves (the HMAC consumer is named as a principal).
  t.true(text.includes(`"${creds.hmac.username}"`));
  t.true(secrets.size >= 20, `only ${secrets.size} credentials recorded`);
  t.deepEqual(leakedIn(text), [], "credentials found in the audit log");
});

/** The recorded credentials found in text, shown by prefix and length only. */
function leakedIn(text: string): string[] {
  return [...secrets].filter((s) => text.includes(s)).map((s) => `${s.slice(0, 6)}… (${s.length} chars)`);
}

test.serial("logs: neither the access logs nor the processes' logs hold a credential", (t) => {
  const files = readdirSync(up.logs_dir).map((f) => join(up.logs_dir, f));
  t.true(files.some((f) => f.endsWith("ingress-access.log")), files.join(", "));
  const text = files.map((f) => readFileSync(f, "utf8")).join("\n") + log;
  t.true(text.includes("/partner/replay"), "the ingress access log was scanned");
  t.deepEqual(leakedIn(text), [], "credentials found in the logs");
});
