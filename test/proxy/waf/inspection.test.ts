import test from "ava";
import v8 from "node:v8";
import { runInNewContext } from "node:vm";
import { DEFAULT_SETTINGS, WafEngine } from "../../../proxy/waf/engine.js";
import { GateSet } from "../../../proxy/waf/gate-set.js";
import { Inspection } from "../../../proxy/waf/inspection.js";
import { F_UPPER, featuresOf } from "../../../proxy/waf/prefilter/features.js";
import { parseRequest } from "../../../proxy/waf/request/parse.js";
import { parseRuleFile } from "../../../proxy/waf/rule-file.js";
import { COLLECTION_INDEX } from "../../../proxy/waf/types.js";
import { featuresOfKnown, markClean, MEMO_VALUE_CHARS } from "../../../proxy/waf/value-memo.js";
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
  // the shared copy lowers as lowercase does: Latin-1 capitals (UTF-8 lead bytes) stay, units above 0xFF are lowered
  for (const [v, want] of [["CAF\u00c3\u00a9", "caf\u00c3\u00a9"], ["K\u212a\u0130X", "kk\u0069\u0307x"], ["Plain Words", "plain words"]]) {
    t.is(insp.transformed(lower, insp.state(v!)), want, JSON.stringify(v));
  }
});

test("a short value is scanned when first met; a long one's features are worked out only when a chain or gate needs them", (t) => {
  const insp = inspection();
  const short = insp.state("Some Text");
  t.is(short.features, featuresOf("Some Text"));
  t.deepEqual(short.raw, []);
  const text = "Some Text ".repeat(MEMO_VALUE_CHARS / 8);
  const k = insp.state(text);
  t.is(k.features, -1);
  t.is(k.raw, undefined);
  t.is(insp.transformed(asSent, k), text, "a chain without transformations needs no features");
  t.is(k.features, -1);
  t.true((featuresOfKnown(k) & F_UPPER) !== 0);
  t.is(k.features, featuresOf(text));
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
  // the joined list's column joins the query's and the body's: one record per value
  const query = queried.column(COLLECTION_INDEX.get("query_args")!, queried.req.collections.at(COLLECTION_INDEX.get("query_args")!)!);
  const bodyCol = queried.column(bodyArgs, queried.req.collections.at(bodyArgs)!);
  t.true(col.every((k, i) => k === (i === 0 ? query[0] : bodyCol[i - 1])));
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

test("a long value is tested with its gate set's quick regex: literals in any ASCII case and with regex characters still trigger", (t) => {
  const rules = parseRuleFile(
    `
defaults:
  tags: [test]
  severity: critical
rules:
  - {id: 20, msg: entity, targets: [body], rx: '(?i)<!entity\\s+\\w+\\s+system'}
  - {id: 21, msg: dotted call, targets: [body], rx: 'a\\.b\\(c\\)'}
  - {id: 22, msg: header word, targets: [headers], rx: 'zebra'}
  - {id: 23, msg: no letters, targets: [body], rx: '\\$\\{\\{'}
  - {id: 24, msg: five words, targets: [body], rx: '(?:alpha|bravo|charlie|delta|echo)\\('}
`,
    "quick.yaml",
  );
  const engine = new WafEngine(rules, DEFAULT_SETTINGS);
  const pad = "x".repeat(400);
  const verdict = (body: string): number[] =>
    engine.evaluate(req({ method: "POST", uri: "/", headers: [["host", "x"], ["content-type", "text/plain"]], body }), { route: "", path: "/" }).matches.map((m) => m.id);
  t.deepEqual(verdict(`${pad}<!ENTITY xxe SYSTEM "file:///etc/passwd">${pad}`), [20]);
  t.deepEqual(verdict(`${pad} A.B(C) ${pad}`), [], "the pattern is case-sensitive, the gate is not");
  t.deepEqual(verdict(`${pad} a.b(c) ${pad}`), [21]);
  t.deepEqual(verdict(`${pad} zebra ${pad}`), [], "a literal of a gate that does not inspect the body does not wake it there");
  t.deepEqual(verdict(pad + pad), []);
  t.deepEqual(verdict(`${pad} {{7*7}} \${{7*7}} ${pad}`), [23], "a literal without letters is searched for as it is");
  t.deepEqual(verdict(`${pad} ECHO( ${pad}`), [], "five literals with letters share one alternation, which ignores case");
  t.deepEqual(verdict(`${pad} echo( ${pad}`), [24]);
});

test("a gate set holds only the gates inspecting its collections", (t) => {
  const rules = parseRuleFile(
    `
defaults:
  tags: [test]
rules:
  - {id: 30, msg: in args, targets: [args], rx: 'alpha'}
  - {id: 31, msg: in headers, targets: [headers], rx: 'beta'}
  - {id: 32, msg: in both, targets: [args, headers], rx: 'gamma'}
`,
    "sets.yaml",
  );
  const gates = new GateSet(rules);
  const args = gates.setOf[COLLECTION_INDEX.get("args")!]!;
  const headers = gates.setOf[COLLECTION_INDEX.get("headers")!]!;
  t.not(args, headers);
  t.is(gates.setOf[COLLECTION_INDEX.get("cookies")!], -1);
  const member = (set: number): number[] => [0, 1, 2].filter((g) => gates.inSet[set * 3 + g] === 1);
  t.deepEqual(member(args), [0, 2]);
  t.deepEqual(member(headers), [1, 2]);
  // each literal sits where its gate does not look, but gamma's
  const insp = new Inspection(parseRequest(req({ uri: "/?q=beta", headers: [["host", "x"], ["x-a", "alpha gamma"]] })), gates);
  insp.gateHits();
  t.deepEqual(
    [0, 1, 2].map((g) => insp.hit(g)),
    [false, false, true],
  );
});

/** A gate set of one rule (YAML flow mapping), whose condition is number 0 for the clean bits. */
function oneGate(rule: string): GateSet {
  return new GateSet(parseRuleFile(`rules:\n  - ${rule}\n`, "one.yaml"), true, [0]);
}

test("a value known clean for a gate's condition does not wake the gate; a value that is not still does", (t) => {
  const gates = oneGate("{id: 40, msg: digits, targets: [args], rx: '^[0-9]\\.s'}");
  const hitFor = (uri: string): boolean => {
    const insp = new Inspection(parseRequest(req({ uri })), gates);
    insp.gateHits();
    return insp.hit(0);
  };
  // "items.0.sku" holds the gate's literal but never matches: once kept and known clean it is passed over
  t.true(hitFor("/?a=items.0.sku"));
  t.true(hitFor("/?a=items.0.sku"));
  const insp = new Inspection(parseRequest(req({ uri: "/?a=items.0.sku" })), gates);
  const [k] = insp.column(COLLECTION_INDEX.get("args")!, insp.req.collections.at(COLLECTION_INDEX.get("args")!)!);
  t.true(k!.kept);
  markClean(k!, 0);
  t.false(hitFor("/?a=items.0.sku"));
  t.true(hitFor("/?a=items.0.sku&b=7.s"), "another value with the literal still wakes it");
});

test("a value kept for later requests does not keep alive the body it was cut from", (t) => {
  v8.setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  const gates = new GateSet([]);
  const kept: string[] = [];
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < 40; i++) {
    // a 1 MiB body, and a 20-character value cut from it seen in two requests (so it is kept)
    const body = `${"x".repeat(1 << 20)}recurring-value-${String(i).padStart(4, "0")}`;
    const value = body.slice(body.length - 20);
    new Inspection(parseRequest(req({ uri: "/" })), gates).state(value);
    kept.push(new Inspection(parseRequest(req({ uri: "/" })), gates).state(value).value);
  }
  gc();
  const grown = process.memoryUsage().heapUsed - before;
  t.is(gates.memo.size, 40);
  t.true(kept.every((v, i) => v === `recurring-value-${String(i).padStart(4, "0")}`));
  // 40 bodies would be 40 MiB
  t.true(grown < 8 * (1 << 20), `${grown} bytes`);
});

test("only a kept value's forms count against the memory's budget: fresh values and their lowered copies go with their request", (t) => {
  const gates = new GateSet([]);
  const look = (v: string): void => {
    const insp = new Inspection(parseRequest(req({ uri: "/" })), gates);
    t.is(insp.transformed(lower, insp.state(v)), v.toLowerCase());
  };
  for (let i = 0; i < 50; i++) look(`FRESH VALUE ${i}`);
  t.is(gates.memo.chars, 0);
  t.is(gates.memo.size, 0);
  // seen in a second request, a value is kept: it and its lowered copy are charged
  look("AGAIN");
  look("AGAIN");
  t.is(gates.memo.size, 1);
  look("AGAIN");
  t.is(gates.memo.chars, "AGAIN".length * 2);
});

test("a large column of kept values is taken whole when the next request's values are the same; a quiet one is not marked again", (t) => {
  const gates = oneGate("{id: 50, msg: names, targets: [args_names], rx: 'zzz'}");
  const NAMES = COLLECTION_INDEX.get("args_names")!;
  const query = (names: readonly string[]): string => "/?" + names.map((n) => `${n}=1`).join("&");
  const look = (names: readonly string[]): { column: readonly unknown[]; hit: boolean } => {
    const insp = new Inspection(parseRequest(req({ uri: query(names) })), gates);
    insp.gateHits();
    return { column: insp.column(NAMES, insp.req.collections.at(NAMES)!), hit: insp.hit(0) };
  };
  const names = Array.from({ length: 40 }, (_, i) => `field_${i}`);
  look(names);
  const kept = look(names).column;
  t.is(look(names).column, kept, "the same records, not looked up again");
  t.not(look([...names.slice(0, 39), "other"]).column, kept, "one name differs");
  t.not(look(names.slice(0, 39)).column.length, 40);
  // a column that wakes a gate is marked every time it comes back
  const loud = [...names.slice(0, 39), "zzz_field"];
  look(loud);
  look(loud);
  const again = look(loud);
  t.is(again.column, look(loud).column);
  t.true(again.hit);
  t.false(look(names).hit);
  // a JSON body's names are shared entries: compared by identity, and taken whole from the third request on
  const body = JSON.stringify(Object.fromEntries(names.map((n) => [n, 1])));
  const jsonNames = (): readonly unknown[] => {
    const insp = new Inspection(parseRequest(req({ uri: "/", method: "POST", headers: [["host", "x"], ["content-type", "application/json"]], body })), gates);
    insp.gateHits();
    return insp.column(NAMES, insp.req.collections.at(NAMES)!);
  };
  jsonNames();
  const first = jsonNames();
  t.is(jsonNames(), first);
});
