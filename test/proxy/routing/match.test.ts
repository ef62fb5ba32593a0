import test from "ava";
import { normalizeHost } from "../../../proxy/routing/matchers.js";
import { parseRoutes, type RouteConfigInput } from "../../../proxy/routing/schema.js";
import { compileRoutes } from "../../../proxy/routing/table.js";

const table = (routes: RouteConfigInput[]) => compileRoutes(parseRoutes(routes));
const r = (name: string, match: RouteConfigInput["match"]): RouteConfigInput => ({ name, match, cluster: "c" });

/** The name of the route chosen for a request, or "-" when none. */
function hit(routes: RouteConfigInput[], req: { method?: string; host?: string; path?: string; headers?: Record<string, string | string[]> }): string {
  return table(routes).match(req.method ?? "GET", req.host ?? "example.com", req.path ?? "/", req.headers ?? {})?.name ?? "-";
}

test("first match wins, in config order", (t) => {
  const routes = [r("api", { path: { prefix: "/api" } }), r("api-users", { path: { prefix: "/api/users" } }), r("all", {})];
  t.is(hit(routes, { path: "/api/users/1" }), "api", "the earlier, broader route shadows the later one");
  t.is(hit([routes[1]!, routes[0]!, routes[2]!], { path: "/api/users/1" }), "api-users");
  t.is(hit(routes, { path: "/other" }), "all");
  t.is(hit(routes.slice(0, 2), { path: "/other" }), "-");
  const tb = table(routes);
  t.is(tb.routes.length, 3);
  t.is(tb.match("GET", "x", "/zzz", {})!.index, 2);
});

test("path: exact, prefix and regex (full match, query ignored, case-sensitive)", (t) => {
  const exact = [r("e", { path: { exact: "/health" } })];
  t.is(hit(exact, { path: "/health" }), "e");
  t.is(hit(exact, { path: "/health?verbose=1" }), "e", "query string is not part of the path");
  t.is(hit(exact, { path: "/health/" }), "-");
  t.is(hit(exact, { path: "/Health" }), "-");
  const prefix = [r("p", { path: { prefix: "/api" } })];
  t.is(hit(prefix, { path: "/api" }), "p");
  t.is(hit(prefix, { path: "/apis" }), "p", "plain string prefix, as in Envoy");
  t.is(hit(prefix, { path: "/ap" }), "-");
  const regex = [r("x", { path: { regex: "/users/[0-9]+" } })];
  t.is(hit(regex, { path: "/users/42" }), "x");
  t.is(hit(regex, { path: "/users/42?x=1" }), "x");
  t.is(hit(regex, { path: "/users/42/orders" }), "-", "regex must match the whole path");
  t.is(hit(regex, { path: "/v1/users/42" }), "-");
});

test("hosts: case-insensitive, port ignored, leading wildcards", (t) => {
  const routes = [r("api", { hosts: ["api.example.com"] }), r("wild", { hosts: ["*.example.com"] }), r("dash", { hosts: ["*-dev.test"] }), r("v6", { hosts: ["[::1]", "127.0.0.1"] })];
  t.is(hit(routes, { host: "API.Example.COM:8443" }), "api");
  t.is(hit(routes, { host: "api.example.com." }), "api", "trailing dot");
  t.is(hit(routes, { host: "www.example.com" }), "wild");
  t.is(hit(routes, { host: "a.b.example.com:80" }), "wild");
  t.is(hit(routes, { host: "example.com" }), "-", "the wildcard stands for at least one character");
  t.is(hit(routes, { host: "xexample.com" }), "-");
  t.is(hit(routes, { host: "web-dev.test" }), "dash");
  t.is(hit(routes, { host: "[::1]:15001" }), "v6");
  t.is(hit(routes, { host: "127.0.0.1:80" }), "v6");
  t.is(hit([r("any", { hosts: ["*"] })], { host: "whatever:1" }), "any");
  t.is(normalizeHost("Foo.COM:80"), "foo.com");
  t.is(normalizeHost("[::1]:80"), "[::1]");
  t.is(normalizeHost("::1"), "::1", "bare IPv6 is left whole");
});

test("methods", (t) => {
  const routes = [r("read", { methods: ["GET", "head"] }), r("rest", {})];
  t.is(hit(routes, { method: "GET" }), "read");
  t.is(hit(routes, { method: "HEAD" }), "read");
  t.is(hit(routes, { method: "POST" }), "rest");
});

test("headers: exact, prefix, suffix, regex; all must match", (t) => {
  const one = (h: Record<string, unknown>) => [{ name: "h", match: { headers: [{ name: "X-Tag", ...h }] }, cluster: "c" }] as RouteConfigInput[];
  t.is(hit(one({ exact: "1" }), { headers: { "x-tag": "1" } }), "h");
  t.is(hit(one({ exact: "1" }), { headers: { "x-tag": "10" } }), "-");
  t.is(hit(one({ prefix: "ab" }), { headers: { "x-tag": "abc" } }), "h");
  t.is(hit(one({ prefix: "ab" }), { headers: { "x-tag": "cab" } }), "-");
  t.is(hit(one({ suffix: "bc" }), { headers: { "x-tag": "abc" } }), "h");
  t.is(hit(one({ suffix: "bc" }), { headers: { "x-tag": "bcd" } }), "-");
  t.is(hit(one({ regex: "v[0-9]" }), { headers: { "x-tag": "v2" } }), "h");
  t.is(hit(one({ regex: "v[0-9]" }), { headers: { "x-tag": "v2x" } }), "-", "header regex is a full match too");
  t.is(hit(one({ exact: "a,b" }), { headers: { "x-tag": ["a", "b"] } }), "h", "repeated values are joined with ','");
  const both: RouteConfigInput[] = [{ name: "both", match: { headers: [{ name: "a", exact: "1" }, { name: "b", exact: "2" }] }, cluster: "c" }];
  t.is(hit(both, { headers: { a: "1", b: "2" } }), "both");
  t.is(hit(both, { headers: { a: "1" } }), "-");
  t.is(hit(both, { headers: { a: "1", b: "3" } }), "-");
});

test("headers: present, invert and absent headers (Envoy semantics)", (t) => {
  const one = (h: Record<string, unknown>) => [{ name: "h", match: { headers: [{ name: "x-tag", ...h }] }, cluster: "c" }] as RouteConfigInput[];
  t.is(hit(one({ present: true }), { headers: { "x-tag": "" } }), "h");
  t.is(hit(one({ present: true }), {}), "-");
  t.is(hit(one({ present: false }), {}), "h");
  t.is(hit(one({ present: false }), { headers: { "x-tag": "1" } }), "-");
  t.is(hit(one({ present: true, invert: true }), {}), "h");
  t.is(hit(one({ present: true, invert: true }), { headers: { "x-tag": "1" } }), "-");
  t.is(hit(one({ exact: "1", invert: true }), { headers: { "x-tag": "2" } }), "h");
  t.is(hit(one({ exact: "1", invert: true }), { headers: { "x-tag": "1" } }), "-");
  t.is(hit(one({ exact: "1", invert: true }), {}), "-", "an absent header fails value matchers even inverted");
  t.is(hit(one({ exact: "1", invert: true, treat_missing_header_as_empty: true }), {}), "h");
  t.is(hit(one({ exact: "", treat_missing_header_as_empty: true }), {}), "h");
});

test("all matcher kinds combine on one route", (t) => {
  const routes: RouteConfigInput[] = [
    {
      name: "canary",
      match: { hosts: ["*.example.com"], path: { prefix: "/api" }, methods: ["GET"], headers: [{ name: "x-canary", exact: "1" }] },
      cluster: "v2",
    },
    { name: "default", cluster: "v1" },
  ];
  const req = { method: "GET", host: "api.example.com", path: "/api/x", headers: { "x-canary": "1" } };
  t.is(hit(routes, req), "canary");
  t.is(hit(routes, { ...req, method: "POST" }), "default");
  t.is(hit(routes, { ...req, host: "api.other.com" }), "default");
  t.is(hit(routes, { ...req, path: "/web" }), "default");
  t.is(hit(routes, { ...req, headers: {} }), "default");
});
