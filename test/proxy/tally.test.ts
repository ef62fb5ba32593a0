import test from "ava";
import { Counter, Histogram, Registry } from "prom-client";
import { ProxyMetrics } from "../../proxy/metrics.js";
import { TallyCounter, TallyHistogram } from "../../proxy/tally.js";

const BOUNDS = [0.001, 0.01, 0.1, 1];

/** Exposition lines, order-free: label order within a line normalised too. */
function lines(text: string): string[] {
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => {
      const m = /^(\w+)\{(.*)\} (.+)$/.exec(l);
      if (!m) return l;
      const labels = m[2]!.split(/,(?=\w+=)/).sort().join(",");
      return `${m[1]}{${labels}} ${m[3]}`;
    })
    .sort();
}

test("a tally histogram and counter expose exactly what prom-client's would for the same observations", async (t) => {
  const ours = new Registry();
  const theirs = new Registry();
  const th = new TallyHistogram("req_seconds", "Request time", ["listener", "route"], BOUNDS, ours);
  const tc = new TallyCounter("req_total", "Requests", ["listener", "route", "code"], ours);
  const ph = new Histogram({ name: "req_seconds", help: "Request time", labelNames: ["listener", "route"], buckets: BOUNDS, registers: [theirs] });
  const pc = new Counter({ name: "req_total", help: "Requests", labelNames: ["listener", "route", "code"], registers: [theirs] });
  const a = th.series(["ingress", "app"]);
  const b = th.series(["ingress", 'we"ird\\route']);
  const ok = tc.series(["ingress", "app", "200"]);
  const denied = tc.series(["ingress", "app", "403"]);
  const samples: [typeof a, string, number][] = [
    [a, "app", 0.0004],
    [a, "app", 0.001], // on a bound: counted in that bucket (le is "less or equal")
    [a, "app", 0.05],
    [a, "app", 7], // above every bound: only in +Inf
    [b, 'we"ird\\route', 0.2],
  ];
  for (const [s, route, v] of samples) {
    th.observe(s, v);
    ph.labels("ingress", route).observe(v);
  }
  ok.value += 3;
  denied.value += 1;
  pc.labels("ingress", "app", "200").inc(3);
  pc.labels("ingress", "app", "403").inc(1);
  t.deepEqual(lines(await ours.metrics()), lines(await theirs.metrics()));
  // label order too: le first, as prom-client writes it
  t.regex(await ours.metrics(), /req_seconds_bucket\{le="0.1",listener="ingress",route="app"\} 3/);
  const json = await ours.getMetricsAsJSON();
  t.deepEqual(
    json.map((m) => m.name),
    ["req_seconds", "req_total"],
  );
});

test("series with nothing counted are left out; reset zeroes without forgetting the series", async (t) => {
  const r = new Registry();
  const c = new TallyCounter("x_total", "X", ["k"], r);
  const s = c.series(["a"]);
  c.series(["b"]);
  s.value++;
  t.regex(await r.metrics(), /x_total\{k="a"\} 1/);
  t.notRegex(await r.metrics(), /k="b"/);
  r.resetMetrics();
  t.notRegex(await r.metrics(), /k="a"/);
  s.value += 2;
  t.regex(await r.metrics(), /x_total\{k="a"\} 2/);
});

test("ProxyMetrics.record and upstreamResult count per listener, route, code and cluster outcome", async (t) => {
  const m = new ProxyMetrics();
  for (let i = 0; i < 5; i++) m.record("ingress", "app", 200, 0.002);
  m.record("ingress", "app", 503, 0.3);
  m.record("ingress", "", 404, 0.0001);
  m.upstreamResult("backend", "2xx");
  m.upstreamResult("backend", "2xx");
  m.upstreamResult("backend", "connect_failure");
  const text = await m.registry.metrics();
  t.regex(text, /mesh_proxy_requests_total\{listener="ingress",route="app",code="200"\} 5/);
  t.regex(text, /mesh_proxy_requests_total\{listener="ingress",route="app",code="503"\} 1/);
  t.regex(text, /mesh_proxy_requests_total\{listener="ingress",route="",code="404"\} 1/);
  t.regex(text, /mesh_proxy_request_duration_seconds_count\{listener="ingress",route="app"\} 6/);
  t.regex(text, /mesh_proxy_request_duration_seconds_bucket\{le="0.0025",listener="ingress",route="app"\} 5/);
  t.regex(text, /mesh_proxy_request_duration_seconds_bucket\{le="\+Inf",listener="ingress",route="app"\} 6/);
  t.regex(text, /mesh_proxy_upstream_requests_total\{cluster="backend",outcome="2xx"\} 2/);
  t.regex(text, /mesh_proxy_upstream_requests_total\{cluster="backend",outcome="connect_failure"\} 1/);
  t.regex(text, /# TYPE mesh_proxy_request_duration_seconds histogram/);
  t.regex(text, /# TYPE mesh_proxy_requests_total counter/);
});
