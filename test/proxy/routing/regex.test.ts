import test from "ava";
import { compileFullMatch, MAX_REGEX_LENGTH, regexProblem } from "../../../proxy/routing/regex.js";

test("route regexes are full matches", (t) => {
  const re = compileFullMatch("/api/v[0-9]+");
  t.true(re.test("/api/v12"));
  t.false(re.test("/api/v12/users"), "no implicit suffix");
  t.false(re.test("x/api/v1"), "no implicit prefix");
  const alt = compileFullMatch("/a|/b");
  t.true(alt.test("/a"));
  t.false(alt.test("/a/x"), "alternation stays inside the anchors");
});

test("a fragment cannot break out of the anchors", (t) => {
  t.truthy(regexProblem("a)|(b"));
  t.throws(() => compileFullMatch("a)|(b"));
});

test("non-RE2 and super-linear features are refused", (t) => {
  t.regex(regexProblem("(a)\\1") ?? "", /backreference/);
  t.regex(regexProblem("(?<x>a)\\k<x>") ?? "", /backreference/);
  t.regex(regexProblem("(?<=a)b") ?? "", /lookahead and lookbehind/);
  t.regex(regexProblem("(?<!a)b") ?? "", /lookahead and lookbehind/);
  t.regex(regexProblem("a(?=b)") ?? "", /lookahead/);
  t.regex(regexProblem("a(?!b)") ?? "", /lookahead/);
  t.regex(regexProblem("(a+)+") ?? "", /nested repetition/);
  t.regex(regexProblem("(a*)*b") ?? "", /nested repetition/);
  t.regex(regexProblem("((ab)+x)*") ?? "", /nested repetition/);
  t.regex(regexProblem("(a{2,})+") ?? "", /nested repetition/);
  t.regex(regexProblem("[") ?? "", /invalid regex/);
  t.regex(regexProblem("") ?? "", /empty/);
  t.regex(regexProblem("a".repeat(MAX_REGEX_LENGTH + 1)) ?? "", /longer than/);
});

test("ordinary regexes, classes and escapes are accepted", (t) => {
  for (const ok of ["/users/[0-9]+", "(a+)?", "(ab)+", "[\\\\1]", "(?<id>[a-z]+)", "\\d{1,3}(\\.\\d{1,3}){3}", "(?:a|b)*", "[(]+"]) {
    t.is(regexProblem(ok), undefined, ok);
  }
});
