import test from "ava";
import { DEFAULT_SETTINGS, WafEngine } from "../../../proxy/waf/engine.js";
import { featuresOfKnown, GateSet, Inspection } from "../../../proxy/waf/inspection.js";
import { F_UPPER } from "../../../proxy/waf/prefilter/features.js";
import { parseRequest } from "../../../proxy/waf/request/parse.js";
import { parseRuleFile } from "../../../proxy/waf/rule-file.js";
import { COLLECTION_INDEX } from "../../../proxy/waf/types.js";
import { req } from "./request/helpers.js";

/** One condition per transformation chain, in this order. */
const RULES = parseRuleFile(
  `
defaults:
  tags: [test]
rules:
  - {id: 1, msg: lower, targets: [args], transforms: [lowercase], rx: 'zzz'}
  - {id: 2, msg: decode and lower, targets: [args], transforms: [url_decode_uni, remove_nulls, lowercase], rx: 'zzz'}
  - {id: 3, msg: shell words, targets: [args], transforms: [cmd_line, lowercase], rx: 'zzz'}
  - {id: 4, msg: decode only, targets: [args], transforms: [url_decode_uni], rx: 'zzz'}
  - {id: 5, msg: as sent, targets: [body], rx: 'zzz'}
`,
  "inspection.yaml",
);
const [lower, decodeLower, shell, decodeOnly, asSent] = RULES as [
  (typeof RULES)[0],
  (typeof RULES)[0],
  (typeof RULES)[0],
  (typeof RULES)[0],
  (typeof RULES)[0],
];

function inspection(uri = "/", body?: string): Inspection {
  const input = req(body === undefined ? { uri } : { uri, method: "POST", headers: [["host", "x"], ["content-type", "application/json"]], body });
  return new Inspection(parseRequest(input), new GateSet([]));
}

test("a chain is marked lowersOnly when lowercase is its only step that reacts to capitals", (t) => {
  t.true(lower.lowersOnly);
  t.true(decodeLower.lowersOnly);
  t.false(shell.lowersOnly, "cmd_line lowers too, and does more");
  t.false(decodeOnly.lowersOnly, "no lowercase step");
});

test("chains that only lower a value share one lowered copy; others transform it themselves", (t) => {
  const insp = inspection();
  const k = insp.state("Running Shoes");
  const a = insp.transformed(lower, k);
  t.is(a, "running shoes");
  t.is(insp.transformed(decodeLower, k), a);
  t.is(k.lower, a);
  t.is(k.forms, undefined, "no per-chain form was made");
  t.is(insp.transformed(shell, k), "running shoes");
  t.is(insp.transformed(decodeOnly, k), "Running Shoes");
  // a value some other step reacts to goes through each chain in full
  const p = insp.state("A%42c");
  t.is(insp.transformed(lower, p), "a%42c");
  t.is(insp.transformed(decodeLower, p), "abc");
  t.is(insp.transformed(decodeOnly, p), "ABc");
});

test("a value's features are worked out only when a chain or gate needs them", (t) => {
  const insp = inspection();
  const k = insp.state("Some Text");
  t.is(k.features, -1);
  t.is(insp.transformed(asSent, k), "Some Text", "a chain without transformations needs no features");
  t.is(k.features, -1);
  t.true((featuresOfKnown(k) & F_UPPER) !== 0);
  t.is(k.features, featuresOfKnown(k));
});

test("args and body_args share one column when the request has no query, and not when it has one", (t) => {
  const body = JSON.stringify({ items: Array.from({ length: 12 }, (_, i) => ({ sku: `SKU-${i}` })) });
  const args = COLLECTION_INDEX.get("args")!;
  const bodyArgs = COLLECTION_INDEX.get("body_args")!;
  const plain = inspection("/orders", body);
  const list = plain.req.collections.at(args)!;
  t.is(list.length, 12);
  t.is(plain.column(bodyArgs, plain.req.collections.at(bodyArgs)!), plain.column(args, list));

  const queried = inspection("/orders?x=1", body);
  const qArgs = queried.req.collections.at(args)!;
  const col = queried.column(args, qArgs);
  t.is(col.length, 13);
  t.not(queried.column(bodyArgs, queried.req.collections.at(bodyArgs)!), col);
  t.deepEqual(
    col.map((k) => k.value),
    qArgs.map((a) => a.value),
  );
});

test("a value passed over in an excluded arg is still inspected where it is not excluded, before and after", (t) => {
  const rules = parseRuleFile(
    `
defaults:
  tags: [test]
rules:
  - {id: 10, msg: keyword, severity: critical, targets: [args, "!args:note"], transforms: [lowercase], rx: 'union\\s+select'}
`,
    "exclusion.yaml",
  );
  const engine = new WafEngine(rules, DEFAULT_SETTINGS);
  const ctx = { route: "", path: "/" };
  const at = (q: string): string => engine.evaluate(req({ uri: `/s?${q}` }), ctx).action;
  for (let round = 0; round < 3; round++) {
    t.is(at("note=UNION+SELECT"), "pass", `round ${round}`);
    t.is(at("q=UNION+SELECT"), "block", `round ${round}`);
    t.is(at("note=UNION+SELECT&q=UNION+SELECT"), "block", `round ${round}`);
    t.is(at("q=union+selects"), "block");
    t.is(at("q=plain"), "pass");
  }
});
