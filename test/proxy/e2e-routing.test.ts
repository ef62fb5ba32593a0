/**
 * Routing and upstream behaviour of one `mesh proxy` process, through its
 * outbound listener to scripted apps in this process: weighted split, round
 * robin, least request, retries (idempotent only), per-try and total
 * timeouts, circuit breaking and outlier ejection; request bodies (read
 * first when small, streamed when chunked or large) arrive whole.
 */
import test from "ava";
import { Agent } from "node:http";
import { adminGet, delayedEcho, echo, errorCode, httpCall, listenerOf, ProxyEnv, waitFor, type App, type HttpResult, type RunningProxy, type Target } from "../helpers/proxy-env.js";

interface Apps {
  a: App;
  b: App;
  rr: App[];
  lrSlow: App;
  lrFast: App;
  flaky: App;
  slow: App;
  cbSlow: App;
  bad: App;
  good: App;
  body: App;
}

let env: ProxyEnv;
let apps: Apps;
let proxy: RunningProxy;
let out: Target;
const held: (() => void)[] = [];

test.before(async () => {
  env = ProxyEnv.create();
  try {
    const seen = new Set<string>();
    apps = {
      a: await env.startApp(),
      b: await env.startApp(),
      rr: [await env.startApp(), await env.startApp(), await env.startApp()],
      // holds every request until the test releases it
      lrSlow: await env.startApp((req, res, app) => void held.push(() => echo(req, res, app))),
      lrFast: await env.startApp(),
      // 503 on the first request of each x-test-key, 200 after
      flaky: await env.startApp((req, res, app) => {
        const key = String(req.headers["x-test-key"]);
        if (seen.has(key)) return echo(req, res, app);
        seen.add(key);
        res.writeHead(503, { "content-type": "text/plain" }).end("try again");
      }),
      slow: await env.startApp(delayedEcho(2000)),
      cbSlow: await env.startApp(delayedEcho(500)),
      bad: await env.startApp((_req, res) => void res.writeHead(500, { "content-type": "text/plain" }).end("broken")),
      good: await env.startApp(),
      body: await env.startApp(),
    };
    await env.workload("edge");
    env.publish("edge");
    const noRetry = { attempts: 0 };
    const route = (prefix: string, target: Record<string, unknown>) => ({ name: prefix.slice(1), match: { path: { prefix } }, ...target });
    proxy = await env.startProxy(
      env.proxyConfig(
        "edge",
        [
          {
            name: "outbound",
            kind: "outbound",
            routes: [
              route("/split", { weighted_clusters: [{ cluster: "a", weight: 80 }, { cluster: "b", weight: 20 }] }),
              route("/rr", { cluster: "rr" }),
              route("/lr", { cluster: "lr", retries: noRetry }),
              route("/retry", { cluster: "flaky" }),
              route("/timeout", { cluster: "slow", timeout: "300ms", retries: noRetry }),
              route("/pertry", { cluster: "slow", timeout: "5s", per_try_timeout: "200ms", retries: { attempts: 1, on: ["gateway-error"] } }),
              route("/cb", { cluster: "cb", retries: noRetry }),
              route("/outlier", { cluster: "od", retries: noRetry }),
              route("/body", { cluster: "body", retries: noRetry }),
            ],
          },
        ],
        [
          { name: "a", endpoints: [apps.a.address] },
          { name: "b", endpoints: [apps.b.address] },
          { name: "body", endpoints: [apps.body.address] },
          { name: "rr", endpoints: apps.rr.map((x) => x.address), lb: "round_robin" },
          { name: "lr", endpoints: [apps.lrSlow.address, apps.lrFast.address], lb: "least_request" },
          { name: "flaky", endpoints: [apps.flaky.address] },
          { name: "slow", endpoints: [apps.slow.address] },
          { name: "cb", endpoints: [apps.cbSlow.address], max_requests: 1 },
          {
            name: "od",
            endpoints: [apps.bad.address, apps.good.address],
            lb: "round_robin",
            outlier_detection: { consecutive_5xx: 3, base_ejection_time: "30s", max_ejection_percent: 50 },
          },
        ],
      ),
    );
    out = listenerOf(proxy, "outbound");
  } catch (err) {
    await env.close();
    throw err;
  }
});

test.after.always(async () => {
  await env?.close();
});

const get = (path: string, o: { agent?: Agent; headers?: Record<string, string>; method?: string } = {}): Promise<HttpResult> => httpCall(out, { path, ...o });

/** Runs `n` requests with `concurrency` in flight; returns the statuses. */
async function load(n: number, concurrency: number, send: (i: number) => Promise<HttpResult>): Promise<number[]> {
  const statuses: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        statuses[i] = (await send(i)).status;
      }
    }),
  );
  return statuses;
}

test("request bodies reach the app whole: small ones read first, chunked and large ones streamed", async (t) => {
  const echoed = async (body: string, headers: Record<string, string> = {}) => {
    const r = await httpCall(out, { path: "/body/echo", method: "POST", headers, body });
    t.is(r.status, 200);
    return JSON.parse(r.body) as { body: string; headers: Record<string, string | undefined> };
  };
  const small = await echoed("a=1&b=".padEnd(1000, "x"));
  t.is(small.body, "a=1&b=".padEnd(1000, "x"));
  t.is(small.headers["content-length"], "1000");
  const chunked = await echoed("y".repeat(5000), { "transfer-encoding": "chunked" });
  t.is(chunked.body, "y".repeat(5000));
  const large = "z".repeat(200 * 1024);
  const big = await echoed(large);
  t.is(big.body.length, large.length);
  t.true(big.body === large);
  t.is(big.headers["content-length"], String(large.length));
});

test("weighted split 80/20 over 1200 requests stays within statistical bounds", async (t) => {
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  t.teardown(() => agent.destroy());
  const n = 1200;
  const statuses = await load(n, 16, () => get("/split", { agent }));
  t.true(statuses.every((s) => s === 200));
  const a = apps.a.hits.length;
  const b = apps.b.hits.length;
  t.is(a + b, n);
  // binomial(1200, 0.8): sd ≈ 13.9; ±5.5 sd ≈ ±76
  t.true(Math.abs(a - 0.8 * n) <= 76, `a=${a} b=${b}`);
});

test("round robin spreads requests evenly and in turn", async (t) => {
  for (let i = 0; i < 30; i++) t.is((await get(`/rr/${i}`)).status, 200);
  t.deepEqual(apps.rr.map((x) => x.hits.length), [10, 10, 10]);
  // each window of three consecutive requests visited all three endpoints
  const order = Array.from({ length: 30 }, (_, i) => apps.rr.findIndex((x) => x.hits.some((h) => h.url === `/rr/${i}`)));
  for (let i = 0; i + 3 <= 30; i += 3) t.deepEqual([...order.slice(i, i + 3)].sort(), [0, 1, 2]);
});

test("least_request sends new requests to the endpoint with fewer in flight", async (t) => {
  const pending: Promise<HttpResult>[] = [];
  for (let i = 0; i < 20; i++) {
    const path = `/lr/${i}`;
    const p = get(path);
    pending.push(p);
    // settled: answered by the fast endpoint, or held by the slow one (whose count of requests in flight grows)
    await Promise.race([p, waitFor(() => apps.lrSlow.hits.some((h) => h.url === path), 5000, "the request to arrive")]);
  }
  t.is(apps.lrSlow.hits.length + apps.lrFast.hits.length, 20);
  // only a pick made while the slow endpoint was idle (a tie) can go there; round robin would send it 10
  t.true(apps.lrSlow.hits.length <= 1, `slow endpoint got ${apps.lrSlow.hits.length} of 20`);
  for (const release of held.splice(0)) release();
  const results = await Promise.all(pending);
  t.true(results.every((r) => r.status === 200));
});

test("a 503 then 200 is retried for GET (client sees 200, app saw 2 attempts); POST is not retried", async (t) => {
  const r = await get("/retry/get", { headers: { "x-test-key": "get-1" } });
  t.is(r.status, 200, r.body);
  t.is(apps.flaky.hits.filter((h) => h.headers["x-test-key"] === "get-1").length, 2);

  const p = await get("/retry/post", { method: "POST", headers: { "x-test-key": "post-1" } });
  t.is(p.status, 503);
  t.is(p.body, "try again");
  t.is(apps.flaky.hits.filter((h) => h.headers["x-test-key"] === "post-1").length, 1);
});

test("the route's total timeout answers 504", async (t) => {
  const started = Date.now();
  const r = await get("/timeout");
  const took = Date.now() - started;
  t.is(r.status, 504, r.body);
  t.is(errorCode(r.body), "upstream_timeout");
  t.true(took >= 250 && took < 2500, `took ${took} ms`);
  t.is(apps.slow.hits.filter((h) => h.url === "/timeout").length, 1);
});

test("a per-try timeout is retried, then answers 504 well before the total timeout", async (t) => {
  const started = Date.now();
  const r = await get("/pertry");
  const took = Date.now() - started;
  t.is(r.status, 504, r.body);
  t.is(errorCode(r.body), "upstream_timeout");
  // under 2 s: undici's own timers tick in whole seconds, so a per-try timeout they ran would take at least 2 s here
  t.true(took >= 350 && took < 1900, `took ${took} ms`);
  t.is(apps.slow.hits.filter((h) => h.url === "/pertry").length, 2);
});

test("circuit breaking: max_requests 1 with a slow app turns concurrent requests into 503 overflow", async (t) => {
  const results = await Promise.all(Array.from({ length: 6 }, (_, i) => get(`/cb/${i}`)));
  const ok = results.filter((r) => r.status === 200);
  const refused = results.filter((r) => r.status !== 200);
  t.true(ok.length >= 1, JSON.stringify(results.map((r) => r.status)));
  t.true(refused.length >= 1, JSON.stringify(results.map((r) => r.status)));
  for (const r of refused) {
    t.is(r.status, 503);
    t.is(errorCode(r.body), "overflow");
  }
  t.is(apps.cbSlow.hits.length, ok.length);
});

test("outlier ejection: after 3 consecutive 500s the bad endpoint gets no traffic, and /config_dump says so", async (t) => {
  const statuses: number[] = [];
  for (let i = 0; i < 20; i++) statuses.push((await get(`/outlier/${i}`)).status);
  t.is(apps.bad.hits.length, 3, JSON.stringify(statuses));
  t.deepEqual(statuses.slice(6), Array(14).fill(200));
  t.is(statuses.filter((s) => s === 500).length, 3);
  const dump = await waitFor(async () => JSON.parse((await adminGet(proxy, "/config_dump")).body) as { clusters: { name: string; ejections_total: number; endpoints: { address: string; ejected: boolean }[] }[] }, 1000, "config_dump");
  const od = dump.clusters.find((c) => c.name === "od")!;
  t.is(od.ejections_total, 1);
  t.deepEqual(
    od.endpoints.map((e) => [e.address, e.ejected]),
    [
      [apps.bad.address, true],
      [apps.good.address, false],
    ],
  );
});
