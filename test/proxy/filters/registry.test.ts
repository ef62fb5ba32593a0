import test from "ava";
import { authzFilter } from "../../../proxy/filters/authz.js";
import { rateLimitFilter } from "../../../proxy/filters/rate-limit.js";
import { wafFilter } from "../../../proxy/filters/waf.js";
import { FILTER_FACTORIES, filterFactory, filterNames } from "../../../proxy/filters/registry.js";
import { build, decide, request } from "./fixtures.js";

test("the registry maps filter names to their factories", (t) => {
  t.is(filterFactory("authz"), authzFilter);
  t.is(filterFactory("rate_limit"), rateLimitFilter);
  t.is(filterFactory("nope"), undefined);
  t.is(filterFactory("waf"), wafFilter);
  t.deepEqual(filterNames().sort(), ["authn", "authz", "rate_limit", "waf"]);
  for (const [name, f] of FILTER_FACTORIES) t.is(f.name, name);
});

test("a factory from the registry builds a working filter from raw config", (t) => {
  const f = build(filterFactory("authz")!, { policies: [{ name: "deny-all", action: "DENY", rules: [{}] }] });
  t.is(f.name, "authz");
  t.like(decide(f, request()), { status: 403 });
  const r = build(filterFactory("rate_limit")!, { buckets: [{ name: "b", requests_per_second: 1, burst: 1 }] });
  t.is(r.name, "rate_limit");
  t.is(decide(r, request()), undefined);
  t.like(decide(r, request()), { status: 429 });
});
