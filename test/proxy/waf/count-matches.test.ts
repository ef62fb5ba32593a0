import test from "ava";
import { COUNT_TABLE, reference } from "../../../proxy/waf/compile.js";
import { DEFAULT_SETTINGS, WafEngine } from "../../../proxy/waf/engine.js";
import { loadRules } from "../../../proxy/waf/rule-file.js";
import { bundledRulesDir } from "../../../proxy/waf/settings.js";
import { parseRuleFile } from "../../../proxy/waf/rule-file.js";
import { req } from "./request/helpers.js";

const RULES = parseRuleFile(
  `
defaults:
  tags: [test]
  severity: critical
rules:
  - {id: 1, msg: many args, targets: ["count:args"], gt: 3}
  - {id: 2, msg: one-digit count, targets: ["count:args"], transforms: [length], eq: 1}
  - {id: 3, msg: a count or its length is 2, targets: ["count:args"], transforms: [length], multi_match: true, eq: 2}
  - {id: 4, msg: some x-a header, targets: ["count:headers:x-a"], eq: 0, negate: true}
`,
  "counts.yaml",
);

/** Rule ids that match a request with n query args and k x-a headers. */
function idsFor(engine: WafEngine, n: number, k: number): number[] {
  const uri = n === 0 ? "/" : `/?${Array.from({ length: n }, (_, i) => `a${i}=1`).join("&")}`;
  const headers: [string, string][] = [["host", "x"], ...Array.from({ length: k }, (): [string, string] => ["X-A", "1"])];
  return engine
    .evaluate(req({ uri, headers }), { route: "", path: "/" })
    .matches.map((m) => m.id)
    .sort((a, b) => a - b);
}

/** What the four rules should give, from their definitions. */
function expected(n: number, k: number): number[] {
  const len = String(n).length;
  return [n > 3 ? 1 : 0, len === 1 ? 2 : 0, n === 2 || len === 2 ? 3 : 0, k !== 0 ? 4 : 0].filter((id) => id !== 0);
}

test("count conditions give the same verdict from the load-time table and past its end", (t) => {
  const engine = new WafEngine(RULES, { ...DEFAULT_SETTINGS, threshold: 1000 });
  // twice: the second round meets every value already known to the engine's memory
  for (let round = 0; round < 2; round++) {
    for (const n of [0, 1, 2, 3, 4, 9, 10, 11, COUNT_TABLE - 1, COUNT_TABLE, COUNT_TABLE + 1, 99, 100]) {
      for (const k of [0, 1, 2]) t.deepEqual(idsFor(engine, n, k), expected(n, k), `${n} args, ${k} x-a headers`);
    }
  }
});

test("the table holds what the condition's definition gives each count, for every bundled count condition", (t) => {
  let checked = 0;
  for (const rule of loadRules(bundledRulesDir())) {
    for (const c of [rule, ...rule.chain]) {
      const hasCount = c.targets.include.some((sel) => sel.count);
      t.is(c.countMatches !== undefined, hasCount, `rule ${rule.id}`);
      if (c.countMatches === undefined) continue;
      t.is(c.countMatches.length, COUNT_TABLE);
      for (let n = 0; n < COUNT_TABLE; n++) t.is(c.countMatches[n], reference(String(n), c.transforms, c.op, c.negate, c.multiMatch), `rule ${rule.id}, count ${n}`);
      checked++;
    }
  }
  t.true(checked > 10);
});

test("reference: negation gives back the value, multi_match tries the value and each changed step", (t) => {
  const eq2 = (v: string): string | undefined => (v === "2" ? v : undefined);
  const length = (v: string): string => String(v.length);
  t.is(reference("12", [length], eq2, false, false), "2");
  t.is(reference("2", [length], eq2, false, false), undefined);
  t.is(reference("2", [length], eq2, false, true), "2");
  t.is(reference("2", [length], eq2, true, true), undefined);
  t.is(reference("7", [length], eq2, true, false), "7");
});
