import test from "ava";
import { authzFilter } from "../../../proxy/filters/authz.js";
import { AUTHZ_LIMITS, parseWhenKey } from "../../../proxy/filters/authz-schema.js";
import { issues } from "./fixtures.js";

const problems = (policies: unknown) => issues(authzFilter, { policies });
const one = (rule: unknown, extra: Record<string, unknown> = {}) => problems([{ name: "p", rules: [rule], ...extra }]);

function refused(t: import("ava").ExecutionContext, got: string[], path: string, message: RegExp): void {
  t.true(
    got.some((g) => g.startsWith(`${path}: `) && message.test(g)),
    `expected "${path}: ${message}" in ${JSON.stringify(got)}`,
  );
}

test("the example from the docs is valid", (t) => {
  t.deepEqual(
    problems([
      {
        name: "allow-frontend",
        action: "ALLOW",
        rules: [
          {
            from: [{ source: { principals: ["demo.mesh/ns/demo/sa/frontend"], not_principals: [], namespaces: ["demo"], request_principals: ["issuer/subject"], ip_blocks: ["10.0.0.0/8", "127.0.0.1", "::1"] } }],
            to: [{ operation: { hosts: ["api.example.com", "*.example.com"], ports: [8080], methods: ["GET", "POST"], paths: ["/api/*", "/health", "*/info"] } }],
            when: [{ key: "request.auth.claims[groups]", values: ["admins"], not_values: [] }],
          },
        ],
      },
    ]),
    [],
  );
});

test("unknown keys are refused at every level", (t) => {
  t.deepEqual(issues(authzFilter, { policies: [], extra: 1 }), [': Unrecognized key: "extra"']);
  refused(t, problems([{ name: "p", rule: [] }]), "policies.0", /Unrecognized key: "rule"/);
  refused(t, one({ form: [] }), "policies.0.rules.0", /Unrecognized key: "form"/);
  refused(t, one({ from: [{ source: { principal: ["x"] } }] }), "policies.0.rules.0.from.0.source", /Unrecognized key: "principal"/);
  refused(t, one({ to: [{ operation: { notPaths: ["/x"] } }] }), "policies.0.rules.0.to.0.operation", /Unrecognized key: "notPaths"/);
  refused(t, one({ when: [{ key: "source.ip", values: ["10.0.0.0/8"], value: [] }] }), "policies.0.rules.0.when.0", /Unrecognized key: "value"/);
});

test("wrong types are refused", (t) => {
  refused(t, issues(authzFilter, {}), "policies", /expected array/);
  refused(t, problems("x"), "policies", /expected array/);
  refused(t, one({ from: [{ source: { principals: "demo.mesh/ns/a/sa/b" } }] }), "policies.0.rules.0.from.0.source.principals", /expected array/);
  refused(t, one({ to: [{ operation: { ports: ["http"] } }] }), "policies.0.rules.0.to.0.operation.ports.0", /expected a port number 1-65535/);
  refused(t, one({ to: [{ operation: { ports: [70000] } }] }), "policies.0.rules.0.to.0.operation.ports.0", /port number/);
  refused(t, one({ to: [{ operation: { methods: [1] } }] }), "policies.0.rules.0.to.0.operation.methods.0", /expected string/);
});

test("a bad action is refused with the choices", (t) => {
  refused(t, problems([{ name: "p", action: "allow" }]), "policies.0.action", /action must be ALLOW, DENY or AUDIT/);
  refused(t, problems([{ name: "p", action: "CUSTOM" }]), "policies.0.action", /ALLOW, DENY or AUDIT/);
});

test("bad CIDRs are refused", (t) => {
  for (const bad of ["10.0.0.0/33", "10.0.0", "300.1.1.1", "::/129", "fe80::1%eth0", "any"]) {
    refused(t, one({ from: [{ source: { ip_blocks: [bad] } }] }), "policies.0.rules.0.from.0.source.ip_blocks.0", /expected an IP address or CIDR block/);
  }
  refused(t, one({ from: [{ source: { not_ip_blocks: ["x"] } }] }), "policies.0.rules.0.from.0.source.not_ip_blocks.0", /CIDR/);
  refused(t, one({ when: [{ key: "source.ip", values: ["10.0.0.0/99"] }] }), "policies.0.rules.0.when.0.values.0", /CIDR/);
});

test("patterns Istio cannot match are refused with what to write", (t) => {
  refused(t, one({ to: [{ operation: { paths: ["/a/*/b"] } }] }), "policies.0.rules.0.to.0.operation.paths.0", /\* is allowed only alone, at the start/);
  refused(t, one({ to: [{ operation: { paths: ["*/a*"] } }] }), "policies.0.rules.0.to.0.operation.paths.0", /only alone/);
  refused(t, one({ to: [{ operation: { paths: [""] } }] }), "policies.0.rules.0.to.0.operation.paths.0", /empty string/);
  refused(t, one({ to: [{ operation: { paths: ["api/*"] } }] }), "policies.0.rules.0.to.0.operation.paths.0", /starts with \//);
  refused(t, one({ to: [{ operation: { paths: ["/a//b"] } }] }), "policies.0.rules.0.to.0.operation.paths.0", /write "\/a\/b"/);
  refused(t, one({ to: [{ operation: { paths: ["/%61pi/*"] } }] }), "policies.0.rules.0.to.0.operation.paths.0", /write "\/api\/\*"/);
  refused(t, one({ to: [{ operation: { paths: ["/a%2Fb"] } }] }), "policies.0.rules.0.to.0.operation.paths.0", /can never match/);
  refused(t, one({ to: [{ operation: { paths: ["/a?b=1"] } }] }), "policies.0.rules.0.to.0.operation.paths.0", /without the query/);
  refused(t, one({ to: [{ operation: { methods: ["get"] } }] }), "policies.0.rules.0.to.0.operation.methods.0", /upper case/);
  refused(t, one({ to: [{ operation: { hosts: ["api.example.com:8080"] } }] }), "policies.0.rules.0.to.0.operation.hosts.0", /without the port/);
  refused(t, one({ from: [{ source: { principals: ["spiffe://demo.mesh/ns/a/sa/b"] } }] }), "policies.0.rules.0.from.0.source.principals.0", /without spiffe:\/\//);
  t.deepEqual(one({ to: [{ operation: { hosts: ["[::1]"], paths: ["*", "*.json"] } }] }), []);
});

test("when: unknown keys, missing values and bad values are refused", (t) => {
  refused(t, one({ when: [{ key: "request.auth.claim[groups]", values: ["a"] }] }), "policies.0.rules.0.when.0.key", /unsupported key .*supported: request.headers/);
  refused(t, one({ when: [{ key: "request.headers[bad header]", values: ["a"] }] }), "policies.0.rules.0.when.0.key", /header name/);
  refused(t, one({ when: [{ key: "request.auth.claims[]", values: ["a"] }] }), "policies.0.rules.0.when.0.key", /claims are written/);
  refused(t, one({ when: [{ key: "request.auth.claims[a]x", values: ["a"] }] }), "policies.0.rules.0.when.0.key", /claims are written/);
  refused(t, one({ when: [{ key: "source.principal" }] }), "policies.0.rules.0.when.0", /needs values or not_values/);
  refused(t, one({ when: [{ key: "source.principal", values: [], not_values: [] }] }), "policies.0.rules.0.when.0", /needs values or not_values/);
  refused(t, one({ when: [{ key: "destination.port", values: ["http"] }] }), "policies.0.rules.0.when.0.values.0", /port number/);
  refused(t, one({ when: [{ key: "source.namespace", not_values: ["a*b"] }] }), "policies.0.rules.0.when.0.not_values.0", /only alone/);
  const deep = "request.auth.claims" + "[a]".repeat(AUTHZ_LIMITS.claimDepth + 1);
  refused(t, one({ when: [{ key: deep, values: ["x"] }] }), "policies.0.rules.0.when.0.key", /nest at most/);
});

test("parseWhenKey understands every documented key", (t) => {
  t.deepEqual(parseWhenKey("request.headers[X-Foo]"), { kind: "header", name: "x-foo" });
  t.deepEqual(parseWhenKey("request.auth.claims[a][b.c]"), { kind: "claim", path: ["a", "b.c"] });
  for (const k of ["request.auth.principal", "request.auth.audiences", "request.auth.presenter", "source.principal", "source.namespace", "source.ip", "destination.port"]) {
    t.is(typeof parseWhenKey(k), "object", k);
  }
});

test("names must be unique and well formed", (t) => {
  refused(t, problems([{ name: "a" }, { name: "a" }]), "policies.1.name", /"a" is used twice/);
  refused(t, problems([{ name: "" }]), "policies.0.name", /.+/);
  refused(t, problems([{ name: 'x" evil' }]), "policies.0.name", /letters, digits/);
  refused(t, problems([{ rules: [] }]), "policies.0.name", /expected string/);
});

test("sizes are bounded", (t) => {
  const many = Array.from({ length: AUTHZ_LIMITS.valuesPerField + 1 }, (_, i) => `ns${i}`);
  refused(t, one({ from: [{ source: { namespaces: many } }] }), "policies.0.rules.0.from.0.source.namespaces", /at most/);
  refused(t, one({ to: [{ operation: { paths: ["/" + "a".repeat(AUTHZ_LIMITS.valueLength)] } }] }), "policies.0.rules.0.to.0.operation.paths.0", /Too big/);
  const rules = Array.from({ length: AUTHZ_LIMITS.rulesPerPolicy + 1 }, () => ({}));
  refused(t, problems([{ name: "p", rules }]), "policies.0.rules", /at most/);
  const from = Array.from({ length: AUTHZ_LIMITS.entriesPerRule + 1 }, () => ({ source: {} }));
  refused(t, one({ from }), "policies.0.rules.0.from", /at most/);
  const policies = Array.from({ length: AUTHZ_LIMITS.policies + 1 }, (_, i) => ({ name: `p${i}` }));
  refused(t, problems(policies), "policies", /at most/);
});

test("ports written as strings become numbers", (t) => {
  const r = authzFilter.schema.safeParse({ policies: [{ name: "p", rules: [{ to: [{ operation: { ports: ["8080", 9090] } }] }] }] });
  t.true(r.success);
  t.deepEqual(r.data?.policies[0]?.rules?.[0]?.to?.[0]?.operation.ports, [8080, 9090]);
});
