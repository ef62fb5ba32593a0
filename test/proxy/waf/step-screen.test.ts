import test from "ava";
import { DEFAULT_SETTINGS, WafEngine } from "../../../proxy/waf/engine.js";
import { GateSet } from "../../../proxy/waf/gate-set.js";
import { Inspection } from "../../../proxy/waf/inspection.js";
import { markClean } from "../../../proxy/waf/value-memo.js";
import { parseRequest } from "../../../proxy/waf/request/parse.js";
import { parseRuleFile } from "../../../proxy/waf/rule-file.js";
import { buildScreen, couldMatch } from "../../../proxy/waf/step-screen.js";
import { COLLECTION_INDEX, COLLECTIONS, type WafInput } from "../../../proxy/waf/types.js";
import { req } from "./request/helpers.js";

const RULES = parseRuleFile(
  `
defaults:
  tags: [test]
rules:
  - {id: 1, msg: named header, targets: ["headers:content-type"], rx: 'zzz'}
  - {id: 2, msg: two content lengths, targets: ["count:headers:content-length"], gt: 1}
  - {id: 3, msg: no accept header, targets: ["count:headers:accept"], eq: 0}
  - {id: 4, msg: negated, targets: ["headers:user-agent"], rx: 'mozilla', negate: true}
  - {id: 5, msg: any arg, targets: [args], rx: 'zzz'}
  - {id: 6, msg: arg by pattern, targets: ["args:/^id/"], rx: 'zzz'}
  - {id: 7, msg: count of args, targets: ["count:args"], gt: 3}
`,
  "screen.yaml",
);

/** Condition numbers as the engine gives them (every condition has one). */
const MEMO = [0, 3, 4, 5, 1, 2, 6];
const screen = buildScreen(RULES.map((r, i) => [{ cond: r, memo: MEMO[i]!, excluded: false }]));
/** The same rules, each with exclusions in its plan: the screen cannot count what the rule would. */
const excludedScreen = buildScreen(RULES.map((r, i) => [{ cond: r, memo: MEMO[i]!, excluded: true }]));

/** One gate set for all inspections, as in an engine (each gets its own request number); no memory, so no value is shared. */
const gates = new GateSet([], false);

function inspect(input: WafInput): Inspection {
  return new Inspection(parseRequest(input), gates);
}

/** Bits of the collections holding a value, as the engine hands them to the screen. */
function presentOf(insp: Inspection): number {
  let m = 0;
  for (let n = 0; n < COLLECTIONS.length; n++) if ((insp.req.collections.at(n)?.length ?? 0) > 0) m |= 1 << n;
  return m;
}
const screened = (i: number, insp: Inspection): boolean => couldMatch(screen, i, insp, presentOf(insp));
const could = (insp: Inspection): boolean[] => RULES.map((_, i) => screened(i, insp));

test("selectors are laid out flat: names shared, counts marked by whether a count of 0 could match", (t) => {
  t.deepEqual([...screen.start], [0, 1, 2, 3, 4, 5, 6, 7]);
  t.deepEqual([...screen.selStart], [0, 1, 2, 3, 4, 5, 6, 7]);
  t.deepEqual(screen.names, ["content-type", "content-length", "accept", "user-agent"]);
  t.deepEqual([...screen.name], [0, 1, 2, 3, -1, -2, -1]);
  // gt 1 misses 0 (2); eq 0 matches it (1); count:args is decided by the rule whatever it is
  t.deepEqual([...screen.count], [0, 2, 1, 0, 0, 0, 2]);
  t.deepEqual([...screen.cond], MEMO);
  t.is(screen.col[4], COLLECTION_INDEX.get("args")!);
});

test("absent names and empty collections rule a head out; present ones let it run; a count runs only when its value matches", (t) => {
  const bare = inspect(req({ headers: [["host", "x"]] }));
  // 3 counts a missing accept header as 0, which it matches; 7: no args, and 0 is not > 3
  t.deepEqual(could(bare), [false, false, true, false, false, false, false]);
  const full = inspect(
    req({
      uri: "/?id=1&q=2",
      headers: [["host", "x"], ["Content-Type", "text/plain"], ["content-length", "1"], ["accept", "*/*"], ["user-agent", "curl"]],
    }),
  );
  // one content-length (not > 1), an accept header (not 0), two args (not > 3)
  t.deepEqual(could(full), [true, false, false, true, true, true, false]);
  const many = inspect(req({ uri: "/?a=1&b=2&c=3&d=4", headers: [["host", "x"], ["content-length", "1"], ["Content-Length", "1"]] }));
  // two content-lengths (> 1), no accept header (a count of 0), four args (> 3)
  t.deepEqual(could(many), [false, true, true, false, true, true, true]);
  // with exclusions the count is the rule's to make: a count of a present name, or of every value, runs
  const excluded = (insp: Inspection): boolean[] => RULES.map((_, i) => couldMatch(excludedScreen, i, insp, presentOf(insp)));
  t.deepEqual(excluded(bare), [false, false, true, false, false, false, true]);
  t.deepEqual(excluded(full), [true, true, true, true, true, true, true]);
});

test("a head known clean on every value its selectors pick is ruled out, and one unknown value lets it run", (t) => {
  const input = req({ uri: "/?id=1&q=2", headers: [["host", "x"], ["content-type", "text/plain"]] });
  const ARGS = COLLECTION_INDEX.get("args")!;
  const HEADERS = COLLECTION_INDEX.get("headers")!;
  /** A new inspection of the request whose values are marked clean as given before the screen first looks. */
  const after = (marks: [collection: number, value: number, cond: number][]): Inspection => {
    const insp = inspect(input);
    for (const [n, v, cond] of marks) markClean(insp.column(n, insp.req.collections.at(n)!)[v]!, cond);
    return insp;
  };
  t.true(screened(5, after([])));
  // the pattern selector picks id only, but the screen asks that every value of the collection be clean
  t.true(screened(5, after([[ARGS, 0, 2]])));
  t.false(screened(5, after([[ARGS, 0, 2], [ARGS, 1, 2]])));
  // rule 5 (any arg, condition 1): one value still unknown
  t.true(screened(4, after([[ARGS, 0, 1]])));
  t.false(screened(4, after([[ARGS, 0, 1], [ARGS, 1, 1]])));
  // a named selector looks only at the values of its name: host was never tested by rule 1, and does not need to be
  t.true(screened(0, after([])));
  t.false(screened(0, after([[HEADERS, 1, 0]])));
  // a name given twice: each of its values has to be clean
  const twice = req({ headers: [["host", "x"], ["content-type", "a"], ["Content-Type", "b"]] });
  const twiceAfter = (marks: number[]): Inspection => {
    const insp = inspect(twice);
    for (const v of marks) markClean(insp.column(HEADERS, insp.req.collections.at(HEADERS)!)[v]!, 0);
    return insp;
  };
  t.true(screened(0, twiceAfter([1])));
  t.true(screened(0, twiceAfter([2])));
  t.false(screened(0, twiceAfter([1, 2])));
  // bits marked after the screen first looked at a collection in this request are not seen: it only ever lets more run
  const insp = after([]);
  t.true(screened(4, insp));
  markClean(insp.column(ARGS, insp.req.collections.at(ARGS)!)[0]!, 1);
  markClean(insp.column(ARGS, insp.req.collections.at(ARGS)!)[1]!, 1);
  t.true(screened(4, insp));
});

test("the engine still finds what its rules match after the same values came clean many times", (t) => {
  const engine = new WafEngine(
    parseRuleFile(
      `
defaults:
  tags: [test]
rules:
  - {id: 10, msg: evil type, targets: ["headers:content-type"], rx: 'evil', severity: critical}
  - {id: 11, msg: evil arg, targets: ["args:/^id/"], rx: 'evil', severity: critical}
  - {id: 12, msg: two hosts, targets: ["count:headers:host"], gt: 1, severity: critical}
  - {id: 13, msg: odd method, targets: [method], within: [GET, HEAD], negate: true, severity: critical}
  - {id: 14, msg: hidden tag, targets: ["args:q"], transforms: [url_decode_uni], rx: '<x', multi_match: true, severity: critical}
`,
      "engine.yaml",
    ),
    DEFAULT_SETTINGS,
  );
  const ctx = { route: "", path: "/" };
  const clean = req({ uri: "/?id=1&q=evil", headers: [["host", "x"], ["content-type", "text/plain"]] });
  for (let i = 0; i < 5; i++) t.is(engine.evaluate(clean, ctx).action, "pass");
  const ids = (input: WafInput): number[] => engine.evaluate(input, ctx).matches.map((m) => m.id);
  t.deepEqual(ids(req({ uri: "/?id=1&q=evil", headers: [["host", "x"], ["content-type", "evil/x"]] })), [10]);
  t.deepEqual(ids(req({ uri: "/?ID=evil&q=1", headers: [["host", "x"], ["content-type", "text/plain"]] })), [11]);
  t.deepEqual(ids(req({ uri: "/?id=1", headers: [["host", "x"], ["Host", "y"]] })), [12]);
  // negated and multi_match conditions have their misses remembered too, and still fire on another value
  t.deepEqual(ids(req({ method: "PUT", uri: "/?id=1", headers: [["host", "x"]] })), [13]);
  t.deepEqual(ids(req({ uri: "/?q=%3Cx", headers: [["host", "x"]] })), [14]);
  t.deepEqual(ids(clean), []);
});

test("a step runs only when its head and every chained condition could match", (t) => {
  const chained = parseRuleFile(
    `
defaults:
  tags: [test]
  severity: critical
rules:
  - id: 20
    msg: GET with a body
    targets: [method]
    within: [GET, HEAD]
    chain:
      - {targets: ["headers:content-length"], rx: '^0*$', negate: true}
  - id: 21
    msg: GET with transfer-encoding
    targets: [method]
    within: [GET, HEAD]
    chain:
      - {targets: ["count:headers:transfer-encoding"], gt: 0}
`,
    "chained.yaml",
  );
  const s = buildScreen(chained.map((r, i) => [{ cond: r, memo: 2 * i, excluded: false }, { cond: r.chain[0]!, memo: 2 * i + 1, excluded: false }]));
  t.deepEqual([...s.start], [0, 2, 4]);
  t.deepEqual([...s.selStart], [0, 1, 2, 3, 4]);
  const screenedBy = (input: WafInput): boolean[] => {
    const insp = inspect(input);
    return chained.map((_, i) => couldMatch(s, i, insp, presentOf(insp)));
  };
  // no content-length and no transfer-encoding: neither chain can match, though both heads do
  t.deepEqual(screenedBy(req({ headers: [["host", "x"]] })), [false, false]);
  t.deepEqual(screenedBy(req({ headers: [["host", "x"], ["content-length", "5"]] })), [true, false]);
  t.deepEqual(screenedBy(req({ headers: [["host", "x"], ["transfer-encoding", "chunked"]] })), [false, true]);
  // the screen knows only remembered misses: a method never tested against the heads lets both run (the rule decides)
  t.deepEqual(screenedBy(req({ method: "POST", headers: [["host", "x"], ["content-length", "5"], ["transfer-encoding", "chunked"]] })), [true, true]);
  const engine = new WafEngine(chained, DEFAULT_SETTINGS);
  const ids = (input: WafInput): number[] => engine.evaluate(input, { route: "", path: "/" }).matches.map((m) => m.id);
  for (let i = 0; i < 3; i++) t.deepEqual(ids(req({ headers: [["host", "x"]] })), []);
  t.deepEqual(ids(req({ headers: [["host", "x"], ["content-length", "5"]] })), [20]);
  t.deepEqual(ids(req({ headers: [["host", "x"], ["transfer-encoding", "chunked"]] })), [21]);
  t.deepEqual(ids(req({ method: "POST", headers: [["host", "x"], ["content-length", "5"]] })), []);
});
