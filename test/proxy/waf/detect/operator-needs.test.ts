import test from "ava";
import { detectSqli } from "../../../../proxy/waf/detect/sqli.js";
import { detectXss } from "../../../../proxy/waf/detect/xss.js";
import { OPERATOR_CANNOT_MATCH, OPERATOR_NEEDS } from "../../../../proxy/waf/operators.js";
import { featuresOf } from "../../../../proxy/waf/prefilter/features.js";
import { poolSample } from "../../../helpers/pool-sample.js";
import { seededRandom } from "../../../helpers/seeded-random.js";

/** Attack pieces and the plain text around them, so that both sides of the gate come up often. */
const POOL = ["union", "select", "or", "1", "0x1f", "script", "javascript", "onerror", "alert", "a", "Z", "_", ".", "/", "-", "--", " ", "\u00a0", "\u00e9", "\u0130", "\uff1c", "'", '"', "<", ">", "=", ":", "&", "(", ")", ";", "#", "\t", "\0"];

const sample = (next: () => number): string => poolSample(POOL, next);

for (const [name, detect] of [
  ["sqli", detectSqli],
  ["xss", detectXss],
] as const) {
  test(`the ${name} detector finds nothing in a value without the features the engine gates it on`, (t) => {
    const needs = OPERATOR_NEEDS[name]!;
    const next = seededRandom(name.length);
    let gated = 0;
    let found = 0;
    for (let i = 0; i < 50_000; i++) {
      const s = sample(next);
      const m = detect(s);
      if (m !== undefined) found++;
      if ((featuresOf(s) & needs) !== 0) continue;
      gated++;
      if (m !== undefined) t.fail(`${JSON.stringify(s)} has none of the gate's features but ${name} matches it`);
    }
    // both sides were exercised: values the gate passes over, and values the detector flags
    t.true(gated > 2000, `gated ${gated}`);
    t.true(found > 100, `found ${found}`);
  });
}

test("the SQL detector's cannot-match test never clears a value the detector flags, in any ASCII case", (t) => {
  const cannot = OPERATOR_CANNOT_MATCH.sqli!;
  const next = seededRandom(3);
  let cleared = 0;
  let found = 0;
  for (let i = 0; i < 50_000; i++) {
    const s = sample(next);
    const flagged = detectSqli(s) !== undefined || detectSqli(s.toLowerCase()) !== undefined || detectSqli(s.toUpperCase()) !== undefined;
    if (flagged) found++;
    if (!cannot(s)) continue;
    cleared++;
    if (flagged) t.fail(`${JSON.stringify(s)} is cleared by the quick test but the detector flags it`);
  }
  t.true(cleared > 2000, `cleared ${cleared}`);
  t.true(found > 100, `found ${found}`);
});
