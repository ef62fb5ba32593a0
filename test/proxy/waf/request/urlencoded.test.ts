import test from "ava";
import { Collector } from "../../../../proxy/waf/request/collector.js";
import { decodeForm, parseUrlencoded } from "../../../../proxy/waf/request/urlencoded.js";
import { DEFAULT_LIMITS } from "../../../../proxy/waf/types.js";

function args(s: string): [string, string][] {
  const c = new Collector(DEFAULT_LIMITS);
  parseUrlencoded(s, 0, s.length, c, false);
  return c.queryArgs.map((a) => [a.name, a.value]);
}

test("decodes + and %XX once, keeps bad escapes literally", (t) => {
  const cases: [string, string][] = [
    ["a+b", "a b"],
    ["%41%42c", "ABc"],
    ["%2541", "%41"],
    ["%3c%3E", "<>"],
    ["%", "%"],
    ["%4", "%4"],
    ["%zz%4g", "%zz%4g"],
    ["100%", "100%"],
    ["%%41", "%A"],
    ["%u0041", "%u0041"],
    // Bytes, not UTF-8: %C3%A9 is two characters.
    ["%C3%A9", "\u00c3\u00a9"],
    ["%00", "\u0000"],
    ["plain", "plain"],
  ];
  for (const [input, want] of cases) t.is(decodeForm(input, 0, input.length), want, input);
  t.is(decodeForm("xx%41yy", 2, 5), "A");
});

test("splits on & only, keeps duplicates and empty values", (t) => {
  t.deepEqual(args("a=1&b=2&a=3"), [
    ["a", "1"],
    ["b", "2"],
    ["a", "3"],
  ]);
  t.deepEqual(args("a=1;b=2"), [["a", "1;b=2"]]);
  t.deepEqual(args("flag&x="), [
    ["flag", ""],
    ["x", ""],
  ]);
  t.deepEqual(args("&&a=1&&"), [["a", "1"]]);
  t.deepEqual(args("=v"), [["", "v"]]);
  t.deepEqual(args("a==b"), [["a", "=b"]]);
  t.deepEqual(args("n%3Dx=v%26w"), [["n=x", "v&w"]]);
  t.deepEqual(args(""), []);
  t.deepEqual(args("a&b&c=1"), [
    ["a", ""],
    ["b", ""],
    ["c", "1"],
  ]);
});

test("only the given range is parsed", (t) => {
  const c = new Collector(DEFAULT_LIMITS);
  const s = "/p?x=1&y=2";
  parseUrlencoded(s, 3, s.length, c, false);
  t.deepEqual(
    c.queryArgs.map((a) => a.name),
    ["x", "y"],
  );
  const d = new Collector(DEFAULT_LIMITS);
  parseUrlencoded("a=1&b=2&c=3", 0, 7, d, true);
  t.deepEqual(
    d.bodyArgs.map((a) => [a.name, a.value]),
    [
      ["a", "1"],
      ["b", "2"],
    ],
  );
});
