import test from "ava";
import { keyMatches, parseTarget, selected, widenExclusion } from "../../../proxy/waf/targets.js";
import { COLLECTION_INDEX } from "../../../proxy/waf/types.js";

const arg = (name: string) => ({ name, value: "v" });

test("a named target matches names case-insensitively, ASCII and beyond, and nothing longer or shorter", (t) => {
  const { selector } = parseTarget("headers:User-Agent");
  t.is(selector.name, "user-agent");
  for (const n of ["user-agent", "User-Agent", "USER-AGENT"]) t.true(keyMatches(selector, arg(n)), n);
  for (const n of ["user-agen", "user-agents", "user_agent", ""]) t.false(keyMatches(selector, arg(n)), n);
  const accented = parseTarget("args:ÉTÉ").selector;
  t.true(keyMatches(accented, arg("été")));
  t.true(keyMatches(accented, arg("ÉtÉ")));
  t.false(keyMatches(accented, arg("ete")));
});

test("a target knows its collection's number, and so do the exclusions an args exclusion widens to", (t) => {
  t.is(parseTarget("count:args").selector.index, COLLECTION_INDEX.get("args")!);
  const widened = widenExclusion(parseTarget("!args:password").selector);
  t.deepEqual(
    widened.map((f) => [f.collection, f.index]),
    (["args", "query_args", "body_args"] as const).map((c) => [c, COLLECTION_INDEX.get(c)]),
  );
  const sel = parseTarget("args").selector;
  t.false(selected(sel, widened, arg("Password")));
  t.true(selected(sel, widened, arg("user")));
});
