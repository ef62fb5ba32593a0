import test from "ava";
import { parseRoutes, type RouteConfigInput } from "../../../proxy/routing/schema.js";
import { checkRouteClusters, compileRoutes, pickCluster, rewritePath } from "../../../proxy/routing/table.js";
import { seededRandom } from "../../helpers/seeded-random.js";

const seeded = seededRandom;

const route = (r: Omit<RouteConfigInput, "name">) => compileRoutes(parseRoutes([{ name: "r", ...r }])).routes[0]!;

function counts(r: ReturnType<typeof route>, n: number, random: () => number): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const c = pickCluster(r, random);
    m.set(c, (m.get(c) ?? 0) + 1);
  }
  return m;
}

test("a 90/10 split lands within ±2% over 10,000 picks", (t) => {
  const r = route({ weighted_clusters: [{ cluster: "v1", weight: 90 }, { cluster: "v2", weight: 10 }] });
  for (const seed of [1, 42, 2024]) {
    const m = counts(r, 10_000, seeded(seed));
    t.true(Math.abs((m.get("v1") ?? 0) / 10_000 - 0.9) <= 0.02, `seed ${seed}: v1 ${m.get("v1")}`);
    t.true(Math.abs((m.get("v2") ?? 0) / 10_000 - 0.1) <= 0.02, `seed ${seed}: v2 ${m.get("v2")}`);
  }
});

test("weights need not sum to 100, and zero weights are never picked", (t) => {
  const r = route({ weighted_clusters: [{ cluster: "a", weight: 1 }, { cluster: "off", weight: 0 }, { cluster: "b", weight: 3 }] });
  t.is(r.totalWeight, 4);
  const m = counts(r, 10_000, seeded(7));
  t.is(m.get("off"), undefined);
  t.true(Math.abs((m.get("a") ?? 0) / 10_000 - 0.25) <= 0.02);
  t.true(Math.abs((m.get("b") ?? 0) / 10_000 - 0.75) <= 0.02);
});

test("pick boundaries: r=0 picks the first weighted target, r=1 (bad source) still a weighted one", (t) => {
  const r = route({ weighted_clusters: [{ cluster: "zero", weight: 0 }, { cluster: "a", weight: 1 }, { cluster: "b", weight: 1 }, { cluster: "tail", weight: 0 }] });
  t.is(pickCluster(r, () => 0), "a");
  t.is(pickCluster(r, () => 0.49), "a");
  t.is(pickCluster(r, () => 0.5), "b");
  t.is(pickCluster(r, () => 1), "b");
});

test("a single cluster needs no random draw", (t) => {
  const r = route({ cluster: "only" });
  t.is(pickCluster(r, () => {
    throw new Error("must not draw");
  }), "only");
});

test("checkRouteClusters names the key path of every unknown cluster", (t) => {
  const routes = parseRoutes([
    { name: "a", cluster: "backend" },
    { name: "b", cluster: "ghost" },
    { name: "c", weighted_clusters: [{ cluster: "backend", weight: 1 }, { cluster: "x", weight: 1 }] },
  ]);
  t.deepEqual(checkRouteClusters(routes, ["backend"]), ['routes[1].cluster: unknown cluster "ghost"', 'routes[2].weighted_clusters[1].cluster: unknown cluster "x"']);
  t.deepEqual(checkRouteClusters(routes, new Set(["backend", "ghost", "x"])), []);
});

test("prefix_rewrite", (t) => {
  const api = route({ match: { path: { prefix: "/api" } }, cluster: "c", prefix_rewrite: "/" });
  t.is(rewritePath(api, "/api/users?x=1"), "/users?x=1");
  t.is(rewritePath(api, "/api"), "/");
  t.is(rewritePath(api, "/apiv2"), "/v2");
  const v2 = route({ match: { path: { prefix: "/old/" } }, cluster: "c", prefix_rewrite: "/new/" });
  t.is(rewritePath(v2, "/old/a/b"), "/new/a/b");
  const exact = route({ match: { path: { exact: "/ping" } }, cluster: "c", prefix_rewrite: "/healthz" });
  t.is(rewritePath(exact, "/ping?q"), "/healthz?q");
  const none = route({ match: { path: { prefix: "/api" } }, cluster: "c" });
  t.is(rewritePath(none, "/api/x"), "/api/x");
  const all = route({ cluster: "c", prefix_rewrite: "/v1/" });
  t.is(rewritePath(all, "/users"), "/v1/users");
});

test("route timeouts, retries and websocket flag are compiled", (t) => {
  const r = route({ cluster: "c", timeout: "2s", per_try_timeout: "500ms", websocket: false, retries: { attempts: 3, on: ["5xx"] } });
  t.is(r.timeoutMs, 2000);
  t.is(r.perTryTimeoutMs, 500);
  t.false(r.websocket);
  t.is(r.retryPolicy.attempts, 3);
  t.true(r.retryPolicy.on.has("5xx"));
  t.false(r.retryPolicy.on.has("reset"));
});
