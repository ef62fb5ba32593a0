import test from "ava";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isWafError } from "../../../proxy/waf/errors.js";
import { loadRules, parseRuleFile } from "../../../proxy/waf/rule-file.js";

function refused(t: import("ava").ExecutionContext, text: string, where: RegExp, why: RegExp): void {
  const err = t.throws(() => parseRuleFile(text, "r.yaml"));
  t.true(isWafError(err), String(err));
  t.regex(err!.message, where);
  t.regex(err!.message, why);
}

const ok = (extra = ""): string => `rules:\n  - id: 1\n    msg: m\n    targets: [args]\n    rx: 'a'\n${extra}`;

test("a good file compiles with defaults merged", (t) => {
  const r = parseRuleFile(`defaults:\n  tags: [x]\n  transforms: [lowercase]\nrules:\n  - id: 5\n    msg: m\n    tags: [y]\n    targets: [args]\n    contains: a\n`, "r.yaml");
  t.is(r.length, 1);
  t.deepEqual(r[0]!.tags, ["x", "y"]);
  t.is(r[0]!.transforms.length, 1);
  t.is(r[0]!.paranoia, 1);
  t.is(r[0]!.score, 5);
  t.is(r[0]!.location, "r.yaml:5");
});

test("errors name the file, the line and the reason", (t) => {
  refused(t, "rules:\n  - id: 1\n    msg: [unclosed\n", /^r\.yaml:\d+: /, /YAML/);
  refused(t, ok("    colour: red\n"), /r\.yaml:2/, /colour/);
  refused(t, "rules:\n  - id: 1\n    msg: m\n    targets: [args]\n    rx: '(a'\n", /r\.yaml:5/, /invalid regular expression/);
  refused(t, "rules:\n  - id: 1\n    msg: m\n    targets: [args]\n    rx: '(a)\\1'\n", /r\.yaml:5/, /linear time/);
  refused(t, "rules:\n  - id: 1\n    msg: m\n    targets: [args]\n    rx: a\n    contains: b\n", /r\.yaml:2/, /several operators/);
  refused(t, "rules:\n  - id: 1\n    msg: m\n    targets: [args]\n", /r\.yaml:2/, /needs one operator/);
  refused(t, "rules:\n  - id: 1\n    msg: m\n    targets: [args]\n    transforms: [lowercase, rot13]\n    rx: a\n", /r\.yaml:5/, /unknown transformation "rot13"/);
  refused(t, "rules:\n  - id: 1\n    msg: m\n    targets: [argz]\n    rx: a\n", /r\.yaml:4/, /unknown target "argz"/);
  refused(t, "rules:\n  - id: 1\n    msg: m\n    phase: headers\n    targets: [body]\n    rx: a\n", /r\.yaml:5/, /phase headers/);
  refused(t, "rules:\n  - id: 1\n    msg: m\n    targets: [args]\n    byte_range: '300-1'\n", /r\.yaml:5/, /byte_range/);
  refused(t, "rules:\n  - id: 0\n    msg: m\n    targets: [args]\n    rx: a\n", /r\.yaml:2/, /id/);
  refused(t, "rules: []\n", /r\.yaml/, /rules/);
  refused(t, "rules:\n  - id: 1\n    msg: m\n    targets: [args]\n    rx: a\n    chain:\n      - targets: [nope]\n        rx: b\n", /r\.yaml:7/, /unknown target/);
});

test("a directory loads every yaml file in name order and refuses duplicate ids across files", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "waf-rules-"));
  writeFileSync(join(dir, "b.yaml"), ok());
  writeFileSync(join(dir, "a.yaml"), ok().replace("id: 1", "id: 2"));
  writeFileSync(join(dir, "notes.txt"), "ignored");
  t.deepEqual(
    loadRules(dir).map((r) => r.id),
    [2, 1],
  );
  writeFileSync(join(dir, "c.yaml"), ok());
  const err = t.throws(() => loadRules(dir));
  t.regex(err!.message, /c\.yaml:2: duplicate rule id 1 \(also at .*b\.yaml:2\)/);
  const missing = t.throws(() => loadRules(join(dir, "nope")));
  t.is((missing as { code?: string }).code, "rules_not_found");
  const empty = mkdtempSync(join(tmpdir(), "waf-empty-"));
  t.is((t.throws(() => loadRules(empty)) as { code?: string }).code, "rules_not_found");
});
