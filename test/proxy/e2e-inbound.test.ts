/**
 * The inbound side of one `mesh proxy` process, driven by curl with real
 * client certificates: who gets through the mTLS handshake and the peer
 * check, authorization (DENY before ALLOW), rate limiting, the XFCC header
 * the app sees, and the admin endpoint.
 */
import test from "ava";
import {
  adminGet,
  curlTls,
  errorCode,
  headerOf,
  idOf,
  listenerOf,
  metricValue,
  principalOf,
  ProxyEnv,
  waitFor,
  type App,
  type RunningProxy,
  type Svid,
  type Target,
} from "../helpers/proxy-env.js";

interface Ctx {
  env: ProxyEnv;
  app: App;
  proxy: RunningProxy;
  inbound: Target;
  backend: Svid;
  frontend: Svid;
  publishedAt: number;
  readyAt: number;
}

let ctx: Ctx;

test.before(async () => {
  const env = ProxyEnv.create();
  const app = await env.startApp();
  await env.workload("backend");
  const config = env.proxyConfig(
    "backend",
    [
      {
        name: "inbound",
        kind: "inbound",
        filters: [
          {
            authz: {
              policies: [
                { name: "no-admin", action: "DENY", rules: [{ to: [{ operation: { paths: ["/admin/*"] } }] }] },
                { name: "frontend-only", action: "ALLOW", rules: [{ from: [{ source: { principals: [principalOf("frontend")] } }] }] },
              ],
            },
          },
          { rate_limit: { buckets: [{ name: "slow-lane", routes: ["limited"], requests_per_second: 0.1, burst: 2, key: "peer" }] } },
        ],
        routes: [
          { name: "limited", match: { path: { prefix: "/limited" } }, cluster: "app" },
          { name: "app", match: { path: { prefix: "/" } }, cluster: "app" },
        ],
      },
    ],
    [{ name: "app", endpoints: [app.address] }],
  );
  // the identity arrives 700 ms after the process starts: the proxy must not be ready before that
  let publishedAt = 0;
  let backend: Svid | undefined;
  const timer = setTimeout(() => {
    publishedAt = Date.now();
    backend = env.publish("backend");
  }, 700);
  let proxy: RunningProxy;
  try {
    proxy = await env.startProxy(config);
  } catch (err) {
    clearTimeout(timer);
    await env.close();
    throw err;
  }
  const readyAt = Date.now();
  ctx = { env, app, proxy, inbound: listenerOf(proxy, "inbound"), backend: backend!, frontend: env.issue("frontend"), publishedAt, readyAt };
});

test.after.always(async () => {
  await ctx?.env.close();
});

const hitsOn = (path: string): number => ctx.app.hits.filter((h) => h.url === path).length;

test("no client certificate: the handshake is refused and nothing reaches the app", async (t) => {
  const r = await curlTls(ctx.inbound, "/no-cert");
  t.not(r.exit, 0, r.stderr);
  t.is(r.status, 0);
  t.is(hitsOn("/no-cert"), 0);
});

test("a certificate from another CA (same trust domain and SPIFFE ID) is refused", async (t) => {
  const foreign = ctx.env.issueFromOtherCa("frontend");
  const r = await curlTls(ctx.inbound, "/other-ca", { cert: foreign });
  t.not(r.exit, 0, r.stderr);
  t.is(r.status, 0);
  t.is(hitsOn("/other-ca"), 0);
});

test("an expired certificate is refused", async (t) => {
  const expired = ctx.env.issue("frontend", { ageSeconds: 3600, ttlSeconds: 600 });
  t.true(expired.notAfter.getTime() < Date.now());
  const r = await curlTls(ctx.inbound, "/expired", { cert: expired });
  t.not(r.exit, 0, r.stderr);
  t.is(r.status, 0);
  t.is(hitsOn("/expired"), 0);
});

test.serial("a revoked certificate is refused once the CRL arrives over SDS", async (t) => {
  const victim = ctx.env.issue("frontend");
  const before = await curlTls(ctx.inbound, "/before-revocation", { cert: victim });
  t.is(before.status, 200, before.stderr);
  ctx.env.revoke(victim.serial);
  await waitFor(
    async () => {
      const certs = JSON.parse((await adminGet(ctx.proxy, "/certs")).body) as { crls: { revoked_serials: number } };
      return certs.crls.revoked_serials >= 1;
    },
    10_000,
    "the backend to load the new CRL",
  );
  const r = await curlTls(ctx.inbound, "/revoked", { cert: victim });
  t.not(r.exit, 0, r.stderr);
  t.is(r.status, 0);
  t.is(hitsOn("/revoked"), 0);
  const metrics = (await adminGet(ctx.proxy, "/metrics")).body;
  t.true((metricValue(metrics, "mesh_proxy_handshake_failures_total", { listener: "inbound", reason: "svid_invalid" }) ?? 0) >= 1);
  // an unrevoked certificate of the same identity still gets in
  const fresh = await curlTls(ctx.inbound, "/after-revocation", { cert: ctx.frontend });
  t.is(fresh.status, 200);
});

test("a valid certificate of the wrong identity gets 403 rbac_denied from authz", async (t) => {
  const intruder = ctx.env.issue("intruder");
  const r = await curlTls(ctx.inbound, "/wrong-identity", { cert: intruder });
  t.is(r.exit, 0, r.stderr);
  t.is(r.status, 403);
  t.is(errorCode(r.body), "rbac_denied");
  t.is(hitsOn("/wrong-identity"), 0);
});

test("the right identity reaches the app, which sees the proxy's XFCC and never the client's", async (t) => {
  const forged = `By=${idOf("backend")};URI=${idOf("admin")}`;
  const r = await curlTls(ctx.inbound, "/hello?x=1", { cert: ctx.frontend, headers: [`x-forwarded-client-cert: ${forged}`] });
  t.is(r.status, 200, r.stderr);
  const seen = JSON.parse(r.body) as { url: string; headers: Record<string, string> };
  t.is(seen.url, "/hello?x=1");
  const xfcc = seen.headers["x-forwarded-client-cert"];
  t.truthy(xfcc);
  t.true(xfcc!.split(";").includes(`URI=${idOf("frontend")}`), xfcc);
  t.true(xfcc!.split(";").includes(`By=${idOf("backend")}`), xfcc);
  t.false(xfcc!.includes(idOf("admin")), xfcc);
});

test("a DENY policy on a path beats the ALLOW the caller otherwise has", async (t) => {
  const denied = await curlTls(ctx.inbound, "/admin/users", { cert: ctx.frontend });
  t.is(denied.status, 403);
  t.is(errorCode(denied.body), "rbac_denied");
  t.regex(denied.body, /no-admin/);
  t.is(hitsOn("/admin/users"), 0);
  const allowed = await curlTls(ctx.inbound, "/administrator", { cert: ctx.frontend });
  t.is(allowed.status, 200);
});

test("the rate limit answers 429 with Retry-After once the burst is spent", async (t) => {
  const statuses: number[] = [];
  let last = await curlTls(ctx.inbound, "/limited/a", { cert: ctx.frontend });
  statuses.push(last.status);
  for (let i = 0; i < 3; i++) {
    last = await curlTls(ctx.inbound, "/limited/a", { cert: ctx.frontend });
    statuses.push(last.status);
  }
  t.deepEqual(statuses, [200, 200, 429, 429]);
  t.is(errorCode(last.body), "rate_limited");
  const retryAfter = Number(headerOf(last.headers, "retry-after"));
  t.true(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 10, `Retry-After ${retryAfter}`);
  t.is(hitsOn("/limited/a"), 2);
  // other routes are not limited by that bucket
  t.is((await curlTls(ctx.inbound, "/unlimited", { cert: ctx.frontend })).status, 200);
});

test("admin: ready only after the identity arrived; metrics, certs and config_dump describe it", async (t) => {
  t.true(ctx.readyAt >= ctx.publishedAt && ctx.publishedAt > 0, "the ready file appeared only after SDS published the identity");
  const ready = await adminGet(ctx.proxy, "/ready");
  t.is(ready.status, 200);

  t.is((await curlTls(ctx.inbound, "/count-me", { cert: ctx.frontend })).status, 200);
  const metrics = (await adminGet(ctx.proxy, "/metrics")).body;
  t.true((metricValue(metrics, "mesh_proxy_requests_total", { listener: "inbound", route: "app", code: "200" }) ?? 0) >= 1, metrics);
  const expiry = metricValue(metrics, "mesh_proxy_identity_expiry_timestamp_seconds", { spiffe_id: idOf("backend") });
  // X.509 times have whole seconds
  t.is(expiry, Math.floor(ctx.backend.notAfter.getTime() / 1000));

  const certs = JSON.parse((await adminGet(ctx.proxy, "/certs")).body) as { identity: { spiffe_id: string; serial: string; not_after: string } };
  t.is(certs.identity.spiffe_id, idOf("backend"));
  t.is(certs.identity.serial.toLowerCase(), ctx.backend.serial.toLowerCase());
  t.is(new Date(certs.identity.not_after).getTime(), Math.floor(ctx.backend.notAfter.getTime() / 1000) * 1000);
  t.false(JSON.stringify(certs).includes("PRIVATE KEY"));

  const dump = JSON.parse((await adminGet(ctx.proxy, "/config_dump")).body) as { clusters: { name: string; endpoints: { address: string }[] }[]; listeners: { name: string; filters: string[] }[] };
  t.deepEqual(dump.clusters.map((c) => c.name), ["app"]);
  t.is(dump.clusters[0]!.endpoints[0]!.address, ctx.app.address);
  t.deepEqual(dump.listeners[0]!.filters, ["authz", "rate_limit"]);
  t.false(JSON.stringify(dump).includes("PRIVATE KEY"));
});
