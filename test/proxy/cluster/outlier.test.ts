import test from "ava";
import { Endpoint, parseEndpointAddress } from "../../../proxy/cluster/endpoint.js";
import { OutlierDetector, outlierDetectionSchema } from "../../../proxy/cluster/outlier.js";

function eps(n: number): Endpoint[] {
  return Array.from({ length: n }, (_, i) => new Endpoint(parseEndpointAddress(`10.0.0.${i + 1}:80`) as { address: string; host: string; port: number }));
}

const cfg = (over: Record<string, unknown> = {}) =>
  outlierDetectionSchema.parse({ consecutive_5xx: 3, interval: "10s", base_ejection_time: "30s", max_ejection_percent: 50, ...over });

test("ejected after N consecutive 5xx, back when the ejection time is up", (t) => {
  const hosts = eps(2);
  const od = new OutlierDetector(cfg());
  const ep = hosts[0]!;
  t.false(od.onResult(ep, 500, 0, hosts));
  t.false(od.onResult(ep, 503, 1, hosts));
  t.true(od.onResult(ep, 502, 2, hosts), "third in a row ejects");
  t.true(ep.isEjected(2));
  t.true(ep.isEjected(30_001));
  t.false(ep.isEjected(30_002), "30s later it is back");
  t.is(ep.ejections, 1);
  t.is(ep.consecutive5xx, 0);
  t.is(od.ejectionsTotal, 1);
});

test("a success resets the count; local failures count as 5xx; 4xx does not", (t) => {
  const hosts = eps(2);
  const od = new OutlierDetector(cfg());
  const ep = hosts[0]!;
  od.onResult(ep, 500, 0, hosts);
  od.onResult(ep, "connect-failure", 0, hosts);
  od.onResult(ep, 200, 0, hosts);
  t.is(ep.consecutive5xx, 0);
  od.onResult(ep, 404, 0, hosts);
  od.onResult(ep, "reset", 0, hosts);
  od.onResult(ep, "timeout", 0, hosts);
  t.false(ep.isEjected(0));
  t.true(od.onResult(ep, "connect-failure", 0, hosts));
});

test("ejection time grows with each ejection, capped by max_ejection_time", (t) => {
  const hosts = eps(2);
  const od = new OutlierDetector(cfg({ consecutive_5xx: 1, max_ejection_time: "70s" }));
  const ep = hosts[0]!;
  od.onResult(ep, 500, 0, hosts);
  t.is(ep.ejectedUntil, 30_000);
  od.onResult(ep, 500, 30_000, hosts);
  t.is(ep.ejectedUntil, 30_000 + 60_000, "second ejection: 2 × base");
  od.onResult(ep, 500, 90_000, hosts);
  t.is(ep.ejectedUntil, 90_000 + 70_000, "third: 3 × base = 90s, capped at 70s");
  t.is(ep.ejections, 3);
});

test("the multiplier decays by one per interval of good health", (t) => {
  const hosts = eps(2);
  const od = new OutlierDetector(cfg({ consecutive_5xx: 1 }));
  const ep = hosts[0]!;
  od.onResult(ep, 500, 0, hosts);
  od.onResult(ep, 500, 30_000, hosts);
  t.is(ep.ejections, 2);
  // Ejection ended at 90s; healthy for 25s (2 intervals) → multiplier 2 - 2 + 1.
  od.onResult(ep, 500, 115_000, hosts);
  t.is(ep.ejections, 1);
  t.is(ep.ejectedUntil, 145_000);
});

test("an ejected endpoint is not ejected again by late failures", (t) => {
  const hosts = eps(2);
  const od = new OutlierDetector(cfg({ consecutive_5xx: 1 }));
  od.onResult(hosts[0]!, 500, 0, hosts);
  t.false(od.onResult(hosts[0]!, 500, 10, hosts));
  t.is(hosts[0]!.ejectedUntil, 30_000);
});

test("max_ejection_percent caps simultaneous ejections; one is always allowed", (t) => {
  const hosts = eps(4);
  const od = new OutlierDetector(cfg({ consecutive_5xx: 1, max_ejection_percent: 50 }));
  t.true(od.onResult(hosts[0]!, 500, 0, hosts));
  t.true(od.onResult(hosts[1]!, 500, 0, hosts), "2 of 4 = 50%");
  t.false(od.onResult(hosts[2]!, 500, 0, hosts), "3 of 4 would be 75%");
  t.is(od.ejectionsOverflow, 1);
  t.is(od.ejectedCount(0, hosts), 2);
  // Once the first two are back, the still-failing host is ejected at its next failure.
  t.true(od.onResult(hosts[2]!, 500, 30_000, hosts));
  const tight = new OutlierDetector(cfg({ consecutive_5xx: 1, max_ejection_percent: 0 }));
  const two = eps(2);
  t.true(tight.onResult(two[0]!, 500, 0, two), "at least one host may always be ejected");
  t.false(tight.onResult(two[1]!, 500, 0, two));
});

test("schema defaults are Envoy's and max_ejection_time may not undercut the base", (t) => {
  t.deepEqual(outlierDetectionSchema.parse({}), {
    consecutive_5xx: 5,
    interval: 10_000,
    base_ejection_time: 30_000,
    max_ejection_time: 300_000,
    max_ejection_percent: 10,
  });
  const r = outlierDetectionSchema.safeParse({ base_ejection_time: "1m", max_ejection_time: "30s" });
  t.false(r.success);
  t.deepEqual(r.error!.issues[0]!.path, ["max_ejection_time"]);
  t.false(outlierDetectionSchema.safeParse({ consecutive_5xx: 0 }).success);
  t.false(outlierDetectionSchema.safeParse({ max_ejection_percent: 101 }).success);
});
