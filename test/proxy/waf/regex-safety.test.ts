import test from "ava";
import { compileSafeRegex, foldCase } from "../../../proxy/waf/regex-safety.js";
import { PhraseMatcher } from "../../../proxy/waf/phrase.js";

test("(?i) folds letters into two-case classes and keeps escapes and group syntax", (t) => {
  t.is(foldCase("ab"), "[aA][bB]");
  t.is(foldCase("\\s+x"), "\\s+[xX]");
  t.is(foldCase("[a-f0-9]"), "[a-f0-9A-F]");
  t.is(foldCase("[a-z.-]"), "[a-z.A-Z-]");
  t.false(compileSafeRegex("(?i)^[a-z.-]+$").regex.test("a/b"), "a trailing - stays a literal");
  t.is(foldCase("(?:or|and)"), "(?:[oO][rR]|[aA][nN][dD])");
  t.is(foldCase("\\x41b{2,3}"), "\\x41[bB]{2,3}");
  t.is(foldCase("(?<name>a)"), "(?<name>[aA])");
  const { regex } = compileSafeRegex("(?i)union\\s+select");
  t.true(regex.test("1 UNION   SeLeCt 2"));
  t.false(regex.test("union selection".replace("select", "sel ect")));
});

test("(?s) makes dot match newlines; without it, it does not", (t) => {
  t.true(compileSafeRegex("(?s)a.b").regex.test("a\nb"));
  t.false(compileSafeRegex("a.b").regex.test("a\nb"));
  t.true(compileSafeRegex("(?is)A.B").regex.test("a\nb"));
});

test("patterns the linear engine cannot run are refused with a reason", (t) => {
  t.throws(() => compileSafeRegex("(a)\\1"), { message: /linear time/ });
  t.throws(() => compileSafeRegex("a(?=b)"), { message: /linear time/ });
  t.throws(() => compileSafeRegex("(?<=a)b"), { message: /linear time/ });
  t.throws(() => compileSafeRegex("a("), { message: /invalid regular expression/ });
});

test("catastrophic patterns finish in linear time on 128 KiB of attacker input", (t) => {
  const evil = "a".repeat(128 * 1024) + "!";
  for (const p of ["^(a+)+$", "(a|aa)*c", "(?:a*)*b", "(\\w+\\s?)*$", "(?i)(x+x+)+y"]) {
    const { regex } = compileSafeRegex(p);
    const t0 = Date.now();
    regex.test(p.includes("x") ? "x".repeat(128 * 1024) : evil);
    const ms = Date.now() - t0;
    // a backtracking run would take longer than the age of the universe; the linear engine takes well under a second
    t.true(ms < 3000, `${p} took ${ms} ms`);
  }
});

test("phrase matcher finds any phrase in one pass, case-insensitively, with overlapping phrases", (t) => {
  const pm = new PhraseMatcher(["select", "sel", "union all", "etc/passwd", "he", "she", "hers"]);
  t.is(pm.find("xx SELx"), "sel");
  t.is(pm.find("cat /ETC/PASSWD"), "etc/passwd");
  t.is(pm.find("ushers"), "she");
  t.is(pm.find("nothing here"), "he");
  t.is(new PhraseMatcher(["abcd", "bc"]).find("xabce"), "bc");
  t.is(pm.find("zzz"), undefined);
  t.is(new PhraseMatcher([]).find("anything"), undefined);
  const big = new PhraseMatcher(Array.from({ length: 5000 }, (_, i) => `word${i}x`));
  t.is(big.find("... word4999x ..."), "word4999x");
  const t0 = Date.now();
  t.is(big.find("word".repeat(32 * 1024)), undefined);
  t.true(Date.now() - t0 < 1000);
});
