import test from "ava";
import { parseClusters } from "../../../proxy/cluster/schema.js";
import { ProxyError } from "../../../proxy/errors.js";

const base = { name: "backend", endpoints: ["127.0.0.1:15006"] };

function err(raw: unknown): string {
  try {
    parseClusters(raw);
  } catch (e) {
    if (e instanceof ProxyError && e.code === "invalid_config") return e.message;
    throw e;
  }
  throw new Error("expected an invalid_config error");
}

test("the documented example parses; durations become ms", (t) => {
  const [c] = parseClusters([
    {
      name: "backend",
      endpoints: ["127.0.0.1:15006", "[::1]:15007"],
      spiffe_id: "spiffe://demo.mesh/ns/demo/sa/backend",
      lb: "least_request",
      connect_timeout: "1s",
      timeout: "15s",
      per_try_timeout: "5s",
      max_connections: 1024,
      max_pending_requests: 1024,
      max_requests: 1024,
      retry_budget: { percent: 20, min_retry_concurrency: 3 },
      outlier_detection: { consecutive_5xx: 5, interval: "10s", base_ejection_time: "30s", max_ejection_percent: 50 },
    },
  ]);
  t.is(c!.connect_timeout, 1000);
  t.is(c!.per_try_timeout, 5000);
  t.deepEqual(c!.endpoints, ["127.0.0.1:15006", "[::1]:15007"]);
  t.is(c!.outlier_detection!.base_ejection_time, 30_000);
  t.is(c!.outlier_detection!.max_ejection_time, 300_000);
});

test("defaults are Envoy's", (t) => {
  const [c] = parseClusters([base]);
  t.is(c!.lb, "round_robin");
  t.is(c!.connect_timeout, 5000);
  t.is(c!.timeout, 15_000);
  t.is(c!.per_try_timeout, 0);
  t.is(c!.max_connections, 1024);
  t.is(c!.max_pending_requests, 1024);
  t.is(c!.max_requests, 1024);
  t.deepEqual(c!.retry_budget, { percent: 20, min_retry_concurrency: 3 });
  t.is(c!.outlier_detection, undefined);
  t.is(c!.spiffe_id, undefined);
});

test("errors name the key path", (t) => {
  t.regex(err([{ ...base, endpoints: ["127.0.0.1:1", "nope"] }]), /clusters\[0\]\.endpoints\[1\]: expected HOST:PORT/);
  t.regex(err([{ ...base, endpoints: ["127.0.0.1:1", "127.0.0.1:1"] }]), /clusters\[0\]\.endpoints\[1\]: duplicate endpoint/);
  t.regex(err([{ ...base, endpoints: [] }]), /clusters\[0\]\.endpoints/);
  t.regex(err([{ name: "x" }]), /clusters\[0\]: expected exactly one of endpoints \| endpoints_file/);
  t.regex(err([{ ...base, endpoints_file: "e.txt" }]), /clusters\[0\]: expected exactly one of endpoints \| endpoints_file/);
  t.regex(err([{ ...base, spiffe_id: "spiffe://Demo.Mesh/x" }]), /clusters\[0\]\.spiffe_id: expected a SPIFFE ID/);
  t.regex(err([{ ...base, lb: "random" }]), /clusters\[0\]\.lb/);
  t.regex(err([{ ...base, connect_timeout: "10m" }]), /clusters\[0\]\.connect_timeout: expected a duration from 1ms to 5m/);
  t.regex(err([{ ...base, connect_timeout: 1 }]), /clusters\[0\]\.connect_timeout/);
  t.regex(err([{ ...base, max_requests: 0 }]), /clusters\[0\]\.max_requests/);
  t.regex(err([{ ...base, retry_budget: { percent: 120 } }]), /clusters\[0\]\.retry_budget\.percent/);
  t.regex(err([{ ...base, outlier_detection: { consecutive_5xx: 5, bogus: 1 } }]), /clusters\[0\]\.outlier_detection\.bogus: unknown key/);
  t.regex(err([{ ...base, outlier_detection: { interval: "forever" } }]), /clusters\[0\]\.outlier_detection\.interval: expected a duration/);
  t.regex(err([base, { ...base }]), /clusters\[1\]\.name: cluster name "backend" is used twice/);
  t.regex(err([{ ...base, name: "" }]), /clusters\[0\]\.name/);
});
