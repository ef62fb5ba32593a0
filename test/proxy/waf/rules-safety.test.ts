/**
 * Every bundled rule on pathological 128 KiB inputs: no rule may take
 * super-linear time on attacker input. Each rule's operator runs on each
 * input after the rule's own transformations, one at a time, so a slow
 * rule is named.
 */
import test from "ava";
import type { CompiledCondition } from "../../../proxy/waf/compile.js";
import { loadRules } from "../../../proxy/waf/rule-file.js";
import { bundledRulesDir } from "../../../proxy/waf/settings.js";

const SIZE = 128 * 1024;
const fill = (unit: string): string => unit.repeat(Math.ceil(SIZE / unit.length)).slice(0, SIZE);

const INPUTS: Record<string, string> = {
  quotes: fill("'"),
  angle: fill("<"),
  tags: fill("<a "),
  percent: fill("%"),
  slashes: fill("/"),
  parens: fill("("),
  digits: fill("1"),
  comments: fill("/*"),
  words: fill("select union or and "),
  mixed: fill("a'\"<>(){};|&$` \t\r\n%"),
};

const rules = loadRules(bundledRulesDir());

test("the bundled rules load", (t) => {
  t.true(rules.length >= 100, `only ${rules.length} rules`);
  t.is(new Set(rules.map((r) => r.id)).size, rules.length);
});

/** Time of one condition on one input, after the condition's transformations. */
function timeOf(c: CompiledCondition, raw: string): number {
  const t0 = performance.now();
  let v = raw;
  for (const tr of c.transforms) v = tr(v);
  c.op(v);
  return performance.now() - t0;
}

/**
 * Linear time is checked by growth, not by a wall-clock ceiling alone (a
 * shared CI machine varies tenfold): a condition that takes noticeable time
 * on 128 KiB must take about a quarter of it on 32 KiB. Quadratic growth
 * would be 16×; backtracking blow-ups never finish. The ceiling only catches
 * the absurd.
 */
for (const [name, raw] of Object.entries(INPUTS)) {
  test(`no rule takes super-linear time on 128 KiB of ${name}`, (t) => {
    const bad: string[] = [];
    let worst = { ms: 0, what: "" };
    for (const r of rules) {
      for (const c of [r, ...r.chain]) {
        const big = timeOf(c, raw);
        if (big > worst.ms) worst = { ms: big, what: `rule ${r.id}` };
        if (big < 100) continue;
        const small = Math.min(timeOf(c, raw.slice(0, SIZE / 4)), timeOf(c, raw.slice(0, SIZE / 4)));
        const again = Math.min(big, timeOf(c, raw));
        if (again > 8 * small + 100 || again > 30_000) bad.push(`rule ${r.id} (${r.location}): ${again.toFixed(0)} ms on 128 KiB, ${small.toFixed(0)} ms on 32 KiB`);
      }
    }
    t.deepEqual(bad, []);
    t.log(`slowest on ${name}: ${worst.what} ${worst.ms.toFixed(0)} ms`);
  });
}
