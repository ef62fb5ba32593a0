import test from "ava";
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { parseClusters } from "../../../proxy/cluster/schema.js";
import { ProxyError } from "../../../proxy/errors.js";
import { parseRoutes, routeSchema } from "../../../proxy/routing/schema.js";
import { checkRouteClusters } from "../../../proxy/routing/table.js";

const base = { name: "r", match: { path: { prefix: "/" } }, cluster: "backend" };

function err(raw: unknown): string {
  try {
    parseRoutes(raw);
  } catch (e) {
    if (e instanceof ProxyError && e.code === "invalid_config") return e.message;
    throw e;
  }
  throw new Error("expected an invalid_config error");
}

test("defaults: websocket on, Istio-like retries, no timeouts, catch-all match", (t) => {
  const [r] = parseRoutes([{ name: "all", cluster: "c" }]);
  t.true(r!.websocket);
  t.deepEqual(r!.retries, { attempts: 2, on: ["connect-failure", "retriable-status-codes"], statuses: [503] });
  t.is(r!.timeout, undefined);
  t.deepEqual(r!.match, {});
});

test("the documented example parses, durations become ms and names are normalized", (t) => {
  const [r] = parseRoutes([
    {
      name: "api-canary",
      match: {
        hosts: ["API.example.com", "*.example.com"],
        path: { prefix: "/api" },
        methods: ["get"],
        headers: [{ name: "X-Canary", exact: "1" }],
      },
      weighted_clusters: [
        { cluster: "backend-v1", weight: 90 },
        { cluster: "backend-v2", weight: 10 },
      ],
      timeout: "15s",
      per_try_timeout: "5s",
      retries: { attempts: 2, on: ["5xx", "gateway-error", "connect-failure", "reset", "retriable-status-codes"], statuses: [503] },
      websocket: true,
      prefix_rewrite: "/",
    },
  ]);
  t.is(r!.timeout, 15_000);
  t.is(r!.per_try_timeout, 5000);
  t.deepEqual(r!.match.hosts, ["api.example.com", "*.example.com"]);
  t.deepEqual(r!.match.methods, ["GET"]);
  t.is(r!.match.headers![0]!.name, "x-canary");
  t.false(r!.match.headers![0]!.invert);
});

test("errors name the key path", (t) => {
  t.regex(err([base, { ...base, name: "r2", surprise: 1 }]), /routes\[1\]\.surprise: unknown key/);
  t.regex(err([{ ...base, match: { path: { prefix: "/", exact: "/x" } } }]), /routes\[0\]\.match\.path: path: expected exactly one of exact \| prefix \| regex, got exact and prefix/);
  t.regex(err([{ ...base, match: { path: {} } }]), /routes\[0\]\.match\.path: .*exactly one/);
  t.regex(err([{ ...base, match: { path: { regex: "(a+)+" } } }]), /routes\[0\]\.match\.path\.regex: nested repetition/);
  t.regex(err([{ ...base, match: { path: { prefix: "api" } } }]), /routes\[0\]\.match\.path\.prefix: expected a path starting with '\/'/);
  t.regex(err([{ ...base, match: { headers: [{ name: "x", exact: "1", present: true }] } }]), /routes\[0\]\.match\.headers\[0\]: header match: expected exactly one/);
  t.regex(err([{ ...base, match: { headers: [{ name: "bad header", exact: "1" }] } }]), /routes\[0\]\.match\.headers\[0\]\.name: expected an HTTP header name/);
  t.regex(err([{ ...base, match: { hosts: ["a.com:8080"] } }]), /routes\[0\]\.match\.hosts\[0\]: .*carries a port/);
  t.regex(err([{ ...base, match: { hosts: ["a.*.com"] } }]), /routes\[0\]\.match\.hosts\[0\]: .*single leading/);
  t.regex(err([{ ...base, match: { methods: ["G3T"] } }]), /routes\[0\]\.match\.methods\[0\]: expected an HTTP method/);
  t.regex(err([{ ...base, timeout: "soon" }]), /routes\[0\]\.timeout: expected a duration/);
  t.regex(err([{ ...base, timeout: "48h" }]), /routes\[0\]\.timeout: expected a duration/);
  t.regex(err([{ ...base, retries: { attempts: 11 } }]), /routes\[0\]\.retries\.attempts/);
  t.regex(err([{ ...base, retries: { on: ["5xx", "always"] } }]), /routes\[0\]\.retries\.on\[1\]/);
  t.regex(err([{ ...base, retries: { on: ["retriable-status-codes"], statuses: [] } }]), /routes\[0\]\.retries\.statuses: retriable-status-codes needs/);
  t.regex(err([{ ...base, name: "bad name!" }]), /routes\[0\]\.name: expected a name/);
  t.regex(err([base, base]), /routes\[1\]\.name: route name "r" is used twice/);
});

test("cluster xor weighted_clusters; weights are checked", (t) => {
  t.regex(err([{ name: "r" }]), /routes\[0\]: expected exactly one of cluster \| weighted_clusters/);
  t.regex(err([{ name: "r", cluster: "a", weighted_clusters: [{ cluster: "b", weight: 1 }] }]), /exactly one of cluster/);
  t.regex(err([{ name: "r", weighted_clusters: [{ cluster: "a", weight: 0 }, { cluster: "b", weight: 0 }] }]), /routes\[0\]\.weighted_clusters: weights add up to 0/);
  t.regex(err([{ name: "r", weighted_clusters: [{ cluster: "a", weight: -1 }] }]), /routes\[0\]\.weighted_clusters\[0\]\.weight/);
  t.regex(err([{ name: "r", weighted_clusters: [{ cluster: "a", weight: 1.5 }] }]), /routes\[0\]\.weighted_clusters\[0\]\.weight/);
  t.regex(err([{ name: "r", weighted_clusters: [{ cluster: "a", weight: 1 }, { cluster: "a", weight: 2 }] }]), /routes\[0\]\.weighted_clusters\[1\]\.cluster: cluster "a" listed twice/);
  t.notThrows(() => parseRoutes([{ name: "r", weighted_clusters: [{ cluster: "a", weight: 0 }, { cluster: "b", weight: 3 }] }]));
});

test("prefix_rewrite is refused with a regex path match", (t) => {
  t.regex(err([{ ...base, match: { path: { regex: "/a.*" } }, prefix_rewrite: "/" }]), /routes\[0\]\.prefix_rewrite: .*not a regex/);
});

test("lists and strings are bounded", (t) => {
  t.false(routeSchema.safeParse({ ...base, match: { hosts: Array.from({ length: 65 }, (_, i) => `h${i}.com`) } }).success);
  t.false(routeSchema.safeParse({ ...base, match: { headers: Array.from({ length: 33 }, () => ({ name: "x", present: true })) } }).success);
  t.false(routeSchema.safeParse({ ...base, match: { path: { prefix: "/" + "a".repeat(1024) } } }).success);
  t.false(routeSchema.safeParse({ ...base, name: "a".repeat(129) }).success);
  t.regex(err(Array.from({ length: 1001 }, (_, i) => ({ ...base, name: `r${i}` }))), /routes: /);
});

test("the example at the top of docs/proxy-routing.md is valid", (t) => {
  const md = readFileSync("docs/proxy-routing.md", "utf8");
  const block = /```yaml\n(routes:[\s\S]*?)```/.exec(md);
  t.truthy(block, "the doc opens with a routes/clusters example");
  const doc = parseYaml(block![1]!) as { routes: unknown; clusters: unknown };
  const routes = parseRoutes(doc.routes);
  const clusters = parseClusters(doc.clusters);
  t.deepEqual(checkRouteClusters(routes, clusters.map((c) => c.name)), []);
});
