import test from "ava";
import { DEFAULT_SETTINGS, WafEngine, type WafSettings } from "../../../proxy/waf/engine.js";
import { parseRuleFile } from "../../../proxy/waf/rule-file.js";
import type { WafInput } from "../../../proxy/waf/types.js";

const RULES = `
defaults:
  tags: [test]
rules:
  - id: 1
    msg: sql keyword pair
    severity: warning
    targets: [args, "!args:comment"]
    transforms: [url_decode_uni, lowercase]
    rx: 'union\\s+select'
  - id: 2
    msg: sql comment
    severity: warning
    tags: [sql-comment]
    targets: [args]
    contains: "--"
  - id: 3
    msg: strict check at PL2
    paranoia: 2
    severity: critical
    targets: [args]
    phrases: [danger]
  - id: 4
    msg: too many args
    phase: headers
    targets: [count:query_args]
    gt: 3
  - id: 5
    msg: admin path with a POST
    targets: [path]
    begins: /admin
    chain:
      - targets: [method]
        within: [POST]
  - id: 6
    msg: missing user agent
    severity: notice
    phase: headers
    targets: [count:headers:user-agent]
    eq: 0
  - id: 7
    msg: json key
    targets: [args_names]
    equals: json.evil
  - id: 8
    msg: header value pattern
    phase: headers
    targets: ["headers:/^x-sc/"]
    rx: 'scan'
`;

const rules = parseRuleFile(RULES, "test.yaml");

function engine(over: Partial<WafSettings> = {}): WafEngine {
  return new WafEngine(rules, { ...DEFAULT_SETTINGS, ...over });
}

function req(uri: string, opts: { method?: string; headers?: [string, string][]; body?: string; type?: string } = {}): WafInput {
  const headers: [string, string][] = [["host", "x"], ["user-agent", "t"], ...(opts.headers ?? [])];
  if (opts.type) headers.push(["content-type", opts.type]);
  return { method: opts.method ?? "GET", uri, protocol: "HTTP/1.1", headers, body: opts.body === undefined ? undefined : Buffer.from(opts.body) };
}

const ctx = { route: "r", path: "/" };
const ids = (v: { matches: readonly { id: number }[] }): number[] => v.matches.map((m) => m.id).sort((a, b) => a - b);

test("scores add up per rule; the request is blocked only when the score reaches the threshold", (t) => {
  const e = engine();
  const one = e.evaluate(req("/?q=1%20union%20select%202"), ctx);
  t.is(one.action, "pass");
  t.is(one.score, 3);
  t.deepEqual(ids(one), [1]);
  const two = e.evaluate(req("/?q=1%20UNION%20SELECT%202--"), ctx);
  t.is(two.action, "block");
  t.is(two.score, 6);
  t.deepEqual(ids(two), [1, 2]);
  t.is(two.matches[0]!.target, "args:q");
  t.is(two.matches[0]!.match, "union select");
  t.is(engine({ threshold: 7 }).evaluate(req("/?q=1%20UNION%20SELECT%202--"), ctx).action, "pass");
});

test("rules above the blocking paranoia level are reported but never block", (t) => {
  t.deepEqual(ids(engine().evaluate(req("/?q=danger"), ctx)), [], "PL2 rule not run at detection PL1");
  const v = engine({ paranoia: 1, detectionParanoia: 2 }).evaluate(req("/?q=danger"), ctx);
  t.is(v.action, "pass");
  t.is(v.score, 0);
  t.is(v.detectionScore, 5);
  t.false(v.matches[0]!.blocking);
  t.is(engine({ paranoia: 2, detectionParanoia: 2 }).evaluate(req("/?q=danger"), ctx).action, "block");
  t.throws(() => engine({ paranoia: 2, detectionParanoia: 1 }));
});

test("modes: detect logs what block would refuse; off inspects nothing; overrides per route and path prefix", (t) => {
  const attack = req("/?q=1%20union%20select%201--");
  t.is(engine({ mode: "detect" }).evaluate(attack, ctx).action, "detect");
  const off = engine({ mode: "off" }).evaluate(attack, ctx);
  t.is(off.action, "pass");
  t.is(off.matches.length, 0);
  const e = engine({ overrides: [{ route: "legacy", mode: "detect" }, { pathPrefix: "/health", mode: "off" }] });
  t.is(e.evaluate(attack, { route: "legacy", path: "/x" }).action, "detect");
  t.is(e.evaluate(attack, { route: "r", path: "/health/live" }).action, "pass");
  t.is(e.evaluate(attack, { route: "r", path: "/other" }).action, "block");
  t.is(e.modeFor({ route: "r", path: "/health" }), "off");
});

test("exclusions drop a rule by id or tag, or one target from one rule, in their scope only", (t) => {
  const attack = req("/?q=1%20union%20select%201--");
  const byId = engine({ exclusions: [{ pathPrefix: "/search", removeRules: [[2, 2]] }] });
  t.deepEqual(ids(byId.evaluate(attack, { route: "r", path: "/search" })), [1]);
  t.deepEqual(ids(byId.evaluate(attack, { route: "r", path: "/other" })), [1, 2]);
  const byTag = engine({ exclusions: [{ removeTags: ["sql-comment"] }] });
  t.deepEqual(ids(byTag.evaluate(attack, ctx)), [1]);
  const byTarget = engine({ exclusions: [{ route: "r", removeTargets: [{ rules: [1, 2], target: "args:q" }] }] });
  t.deepEqual(ids(byTarget.evaluate(attack, ctx)), []);
  t.deepEqual(ids(byTarget.evaluate(req("/?other=1%20union%20select%201"), ctx)), [1]);
  t.deepEqual(ids(byTarget.evaluate(attack, { route: "elsewhere", path: "/" })), [1, 2]);
});

test("a rule's own !target exclusion leaves that value out", (t) => {
  t.deepEqual(ids(engine().evaluate(req("/?comment=union%20select"), ctx)), []);
});

test("counts, header names and name patterns, chains, JSON names", (t) => {
  const e = engine();
  t.deepEqual(ids(e.evaluate(req("/?a=1&b=2&c=3&d=4"), ctx)), [4]);
  t.deepEqual(ids(e.evaluate(req("/?a=1&b=2&c=3"), ctx)), []);
  t.deepEqual(ids(e.evaluate(req("/admin/x", { method: "POST", body: "", type: "text/plain" }), ctx)), [5]);
  t.deepEqual(ids(e.evaluate(req("/admin/x"), ctx)), [], "chain needs POST too");
  const noUa: WafInput = { method: "GET", uri: "/", protocol: "HTTP/1.1", headers: [["host", "x"]] };
  t.deepEqual(ids(e.evaluate(noUa, ctx)), [6]);
  t.deepEqual(ids(e.evaluate(req("/", { method: "POST", body: '{"evil":1}', type: "application/json" }), ctx)), [7]);
  t.deepEqual(ids(e.evaluate(req("/", { headers: [["x-scanner", "scan me"]] }), ctx)), [8]);
});

test("limits: reject refuses a request past a limit, partial inspects what fits", (t) => {
  const many = "/?" + Array.from({ length: 20 }, (_, i) => `a${i}=1`).join("&");
  const limits = { ...DEFAULT_SETTINGS.limits, args: 10 };
  const rej = engine({ limits, onLimit: "reject" }).evaluate(req(many), ctx);
  t.is(rej.action, "block");
  t.is(rej.limit, "args");
  const part = engine({ limits, onLimit: "partial" }).evaluate(req(many), ctx);
  t.is(part.limit, undefined);
  t.deepEqual(part.exceeded, ["args"]);
  t.is(engine({ limits, onLimit: "reject", mode: "detect" }).evaluate(req(many), ctx).action, "detect");
});

test("matched text is truncated and control characters shown escaped", (t) => {
  const local = parseRuleFile(`rules:\n  - id: 9\n    msg: long\n    targets: [args]\n    rx: 'x+'\n`, "t.yaml");
  const v = new WafEngine(local).evaluate(req(`/?a=${"x".repeat(500)}`), ctx);
  t.true(v.matches[0]!.match.length <= 65);
  const nl = parseRuleFile(`rules:\n  - id: 9\n    msg: nl\n    targets: [args]\n    rx: 'a\\nb'\n`, "t.yaml");
  t.is(new WafEngine(nl).evaluate(req("/?q=a%0Ab"), ctx).matches[0]!.match, "a\\x0ab");
});

test("negate and multi_match", (t) => {
  const local = parseRuleFile(
    `rules:
  - id: 10
    msg: method not allowed
    targets: [method]
    within: [GET, POST]
    negate: true
  - id: 11
    msg: encoded or not
    targets: [args]
    transforms: [url_decode]
    multi_match: true
    contains: "%3c"
`,
    "t.yaml",
  );
  const e = new WafEngine(local);
  t.deepEqual(ids(e.evaluate(req("/", { method: "TRACE" }), ctx)), [10]);
  t.deepEqual(ids(e.evaluate(req("/"), ctx)), []);
  // "%253c" decodes once (parser) to "%3c": found before the rule's own url_decode turns it into "<"
  t.deepEqual(ids(e.evaluate(req("/?a=%253c"), ctx)), [11]);
});
