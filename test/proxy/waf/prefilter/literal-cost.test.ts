import test from "ava";
import { literalCost, lowerAscii } from "../../../../proxy/waf/prefilter/literals.js";
import { loadRules } from "../../../../proxy/waf/rule-file.js";
import { bundledRulesDir } from "../../../../proxy/waf/settings.js";

test("a literal holding a common English trigram costs more than its letters say, so word lists are gated by rarer windows", (t) => {
  t.true(literalCost("prin") > literalCost("ntf"), "printf's window: not the one in spring and print");
  t.true(literalCost("xpre") > literalCost("xpr") * 2, "pre of express and present");
  // the bundled paranoia-1 rules over all args stay asleep on ordinary product, address and prose words
  const words = ["spring", "express", "desktop", "apartment", "returns", "springfield", "compress", "outdoor"];
  for (const r of loadRules(bundledRulesDir())) {
    if (r.literals === undefined || r.paranoia > 1 || !r.targets.include.some((sel) => sel.collection === "args" && sel.name === undefined && sel.pattern === undefined)) continue;
    for (const w of words) for (const l of r.literals) if (w.includes(lowerAscii(l))) t.fail(`rule ${r.id}'s literal ${JSON.stringify(l)} is in ${w}`);
  }
  t.pass();
});
