import test from "ava";
import { F_ALWAYS, F_COMMENT, F_DOUBLE_SPACE, F_EDGE_SPACE, F_PATH, F_SPACE_BEFORE_TIGHT, F_UPPER, featuresOf } from "../../../../proxy/waf/prefilter/features.js";
import { CHANGES_ON, TRANSFORMS, type TransformName } from "../../../../proxy/waf/transforms.js";
import { seededRandom } from "../../../helpers/seeded-random.js";

const rng = seededRandom;

/** Units a transformation reacts to, mixed with plain text, so that pairs like `//`, `/*`, `&lt;` and `%2f` come up often. */
const POOL = [
  ..."abcxyzAZQ019 ",
  ..."/./..//-*#",
  ..."%+&\\\"'^,;()<>=:",
  "\t",
  "\n",
  "\0",
  "\u00a0",
  "\u00c3",
  "\u00a9",
  "\u0130",
  "\uff0f",
  "&lt;",
  "&#x41;",
  "%2f",
  "%u002e",
  "\\x41",
  "\\u0041",
  "0x41",
  "/*",
  "*/",
  "--",
];

function sample(next: () => number): string {
  const n = Math.floor(next() * 10);
  let s = "";
  for (let i = 0; i < n; i++) s += POOL[Math.floor(next() * POOL.length)]!;
  return s;
}

const lowerAscii = (s: string): string => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

const STRINGS: readonly string[] = (() => {
  const next = rng(42);
  const out = new Set<string>(["", " ", "a", "A", "./x", "x/.", "/..", "a..b", "a. b", "a  b", " a", "a ", "a /b", "a(b", "0", "-", "a-b", "*", "#"]);
  while (out.size < 40_000) out.add(sample(next));
  return [...out];
})();

for (const [name, fn] of TRANSFORMS) {
  const mask = CHANGES_ON[name as TransformName];
  test(`${name}: a value with none of the features it changes on comes back as the same string`, (t) => {
    let checked = 0;
    for (const s of STRINGS) {
      if ((featuresOf(s) & mask) !== 0) continue;
      checked++;
      if (fn(s) !== s) t.fail(`${name}(${JSON.stringify(s)}) = ${JSON.stringify(fn(s))} but its features ${featuresOf(s).toString(2)} do not meet ${mask.toString(2)}`);
    }
    // every transformation except the always-changing ones must have been tried on many strings
    if ((mask & F_ALWAYS) === 0) t.true(checked > 500, `only ${checked} strings checked`);
    else t.is(checked, 0);
  });

  if ((mask & F_UPPER) !== 0) {
    test(`${name}: with capitals as the only feature it changes on, it changes at most ASCII case`, (t) => {
      let checked = 0;
      for (const s of STRINGS) {
        if ((featuresOf(s) & mask & ~F_UPPER) !== 0) continue;
        checked++;
        if (lowerAscii(fn(s)) !== lowerAscii(s)) t.fail(`${name}(${JSON.stringify(s)}) = ${JSON.stringify(fn(s))}`);
      }
      t.true(checked > 500);
    });
  }
}

test("features depend on no lower-case letter, so lowering ASCII keeps all but F_UPPER", (t) => {
  for (const s of STRINGS) if ((featuresOf(lowerAscii(s)) & ~F_UPPER) !== (featuresOf(s) & ~F_UPPER)) t.fail(JSON.stringify(s));
  t.is(featuresOf("ABC") & F_UPPER, F_UPPER);
  t.is(featuresOf("abc") & F_UPPER, 0);
});

test("context features: paths, comments, doubled and edge spaces", (t) => {
  const has = (s: string, f: number): boolean => (featuresOf(s) & f) !== 0;
  t.true(has("a//b", F_PATH));
  t.true(has("./a", F_PATH));
  t.true(has("a/../b", F_PATH));
  t.true(has("a/..", F_PATH));
  t.true(has("..", F_PATH));
  t.false(has("a.b/c.d", F_PATH));
  t.false(has("7.5", F_PATH));
  t.false(has("a/.b", F_PATH));
  t.true(has("a -- b", F_COMMENT));
  t.true(has("a/*b", F_COMMENT));
  t.true(has("a*/b", F_COMMENT));
  t.true(has("#1", F_COMMENT));
  t.false(has("a-b*c/d", F_COMMENT));
  t.true(has("a  b", F_DOUBLE_SPACE));
  t.false(has("a b", F_DOUBLE_SPACE));
  t.true(has("a /b", F_SPACE_BEFORE_TIGHT));
  t.true(has("a (b", F_SPACE_BEFORE_TIGHT));
  t.false(has("a b", F_SPACE_BEFORE_TIGHT));
  t.true(has(" a", F_EDGE_SPACE));
  t.true(has("a\t", F_EDGE_SPACE));
  t.true(has("a\u00a0", F_EDGE_SPACE));
  t.false(has("a b", F_EDGE_SPACE));
});
