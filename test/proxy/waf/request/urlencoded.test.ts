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
  const d = (s: string) => decodeForm(s, 0, s.length);
  t.is(d("a+b"), "a b");
  t.is(d("%41%42c"), "ABc");
  t.is(d("%2541"), "%41");
  t.is(d("%3c%3E"), "<>");
  t.is(d("%"), "%");
  t.is(d("%4"), "%4");
  t.is(d("%zz%4g"), "%zz%4g");
  t.is(d("100%"), "100%");
  t.is(d("%%41"), "%A");
  t.is(d("%u0041"), "%u0041");
  // Bytes, not UTF-8: %C3%A9 is two characters.
  t.is(d("%C3%A9"), "\u00c3\u00a9");
  t.is(d("%00"), "\u0000");
  t.is(d("plain"), "plain");
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
