import test from "ava";
import { loadRules } from "../../../proxy/waf/rule-file.js";
import { bundledRulesDir } from "../../../proxy/waf/settings.js";
import { featuresOf } from "../../../proxy/waf/prefilter/features.js";
import { poolSample } from "../../helpers/pool-sample.js";
import { seededRandom } from "../../helpers/seeded-random.js";

/** Attack pieces, encodings the chains undo, and plain text, so both sides of each condition's reach come up often. */
const POOL = ["union", "select", "or", "1", "script", "onerror", "alert", "a", "Z", "_", ".", "/", "-", "--", " ", "  ", "'", '"', "<", "=", ":", "(", ";", "%3c", "%27", "%u003c", "&lt;", "&#x27;", "\\x3c", "\\u0027", "/*x*/", "+", "\0", "\u00e9"];

const sample = (next: () => number): string => poolSample(POOL, next);

test("a condition never matches a value without the features of its reach (the engine passes such values over)", (t) => {
  const conditions = loadRules(bundledRulesDir())
    .flatMap((r) => [r, ...r.chain])
    .filter((c) => c.reach !== 0);
  t.true(conditions.length >= 2, "the SQL and XSS detector rules have a reach");
  const next = seededRandom(7);
  let passed = 0;
  let matched = 0;
  for (let i = 0; i < 20_000; i++) {
    const v = sample(next);
    const outside = conditions.filter((c) => (featuresOf(v) & c.reach) === 0);
    for (const c of conditions) {
      const m = c.op(c.transforms.reduce((x, f) => f(x), v));
      if (m !== undefined) matched++;
      if (!outside.includes(c)) continue;
      passed++;
      if (m !== undefined) t.fail(`${JSON.stringify(v)} is outside the reach of a ${c.opName} condition, which matches it`);
    }
  }
  t.true(passed > 5000, `passed over ${passed}`);
  t.true(matched > 500, `matched ${matched}`);
});
