import test from "ava";
import { one, pairs, post, values } from "./helpers.js";

const json = (body: string | Buffer, lim = {}) => post("application/json", body, lim);

test("leaves are body args named by their path; values in JSON text form", (t) => {
  const p = json('{"a":{"b":"x","c":[1,-2.5e3,true,null,{"d":"y"}]},"e":false}');
  t.deepEqual(pairs(p, "body_args"), [
    ["json.a.b", "x"],
    ["json.a.c.0", "1"],
    ["json.a.c.1", "-2.5e3"],
    ["json.a.c.2", "true"],
    ["json.a.c.3", "null"],
    ["json.a.c.4.d", "y"],
    ["json.e", "false"],
  ]);
  t.deepEqual(values(p, "body_args_names"), ["json.a.b", "json.a.c.0", "json.a.c.1", "json.a.c.2", "json.a.c.3", "json.a.c.4.d", "json.e"]);
  t.deepEqual(values(p, "args_names"), values(p, "body_args_names"));
  t.is(one(p, "body_processor"), "json");
  t.false(p.collections.has("body_error"));
});

test("a scalar root is named json; empty containers are leaves so their keys are seen", (t) => {
  t.deepEqual(pairs(json('"hi"'), "body_args"), [["json", "hi"]]);
  t.deepEqual(pairs(json(" 42 "), "body_args"), [["json", "42"]]);
  t.deepEqual(pairs(json('{"<script>":{},"l":[]}'), "body_args"), [
    ["json.<script>", ""],
    ["json.l", ""],
  ]);
  t.deepEqual(pairs(json("[]"), "body_args"), [["json", ""]]);
  t.deepEqual(pairs(json('[[1],[2,[]]]'), "body_args"), [
    ["json.0.0", "1"],
    ["json.1.0", "2"],
    ["json.1.1", ""],
  ]);
});

test("string escapes are decoded to the bytes the client meant", (t) => {
  const p = json('{"k\\u0041":"\\u003cscript\\u003e \\"q\\" \\\\ \\/ \\n\\t \\u00e9 \\ud83d\\ude00"}');
  t.deepEqual(pairs(p, "body_args"), [["json.kA", '<script> "q" \\ / \n\t \u00c3\u00a9 \u00f0\u009f\u0098\u0080']]);
  // Raw UTF-8 bytes pass through unchanged (as latin1 characters).
  t.deepEqual(pairs(json(Buffer.from('{"a":"é"}', "utf8")), "body_args"), [["json.a", "\u00c3\u00a9"]]);
  // A UTF-8 byte order mark is skipped.
  t.deepEqual(pairs(json(Buffer.from('\ufeff{"a":1}', "utf8")), "body_args"), [["json.a", "1"]]);
});

test("malformed JSON is a body_error with a reason; what came before is kept", (t) => {
  // An empty body is no body: nothing to parse, no error.
  t.false(json("").collections.has("body_error"));
  const bad: [string, RegExp][] = [
    ["   ", /empty body/],
    ["test", /unexpected character/],
    ['{"a":1,}', /expected a key/],
    ['{"a" 1}', /expected ":"/],
    ['{"a":1', /unexpected end/],
    ["[1 2]", /expected "," or "\]"/],
    ['{"a":1]', /expected "," or "}"/],
    ["[01]", /leading zero/],
    ["[1.]", /malformed number/],
    ["[-]", /malformed number/],
    ['["a\\x"]', /bad escape/],
    ['["\\u12G4"]', /bad \\u escape/],
    ['["a\nb"]', /control character/],
    ["[tru]", /unexpected character/],
    ["{} {}", /data after the JSON value/],
    ['{"a":"unterminated', /unexpected end/],
    ["nul", /unexpected end/],
  ];
  for (const [body, re] of bad) {
    const p = json(body);
    const err = one(p, "body_error");
    t.regex(err ?? "", re, JSON.stringify(body));
    t.true((err ?? "").startsWith("json: "));
    t.is(one(p, "body_processor"), "json");
  }
  t.deepEqual(pairs(json('{"a":"x","b":}'), "body_args"), [["json.a", "x"]]);
});

test("nesting past the depth limit is reported and not emitted", (t) => {
  const p = json('{"a":{"b":{"c":{"d":1}}},"z":2}', { depth: 2 });
  t.deepEqual(p.exceeded, ["depth"]);
  t.deepEqual(pairs(p, "body_args"), [["json.z", "2"]]);
  const q = json('{"a":{"b":1}}', { depth: 2 });
  t.deepEqual(q.exceeded, []);
  t.deepEqual(pairs(q, "body_args"), [["json.a.b", "1"]]);
  // Syntax is still checked beyond the limit.
  t.regex(one(json('[[[[1 2]]]]', { depth: 2 }), "body_error") ?? "", /expected ","/);
});

test("a body cut by the byte limit is not a syntax error", (t) => {
  const body = JSON.stringify({ a: "x".repeat(50), b: "y" });
  const p = json(body, { bodyBytes: 30 });
  t.deepEqual(p.exceeded, ["body_bytes"]);
  t.false(p.collections.has("body_error"));
  t.is(one(p, "body")?.length, 30);
  t.is(one(p, "body_size"), String(body.length));
  // A real syntax error inside the inspected part still counts.
  t.truthy(one(json('{"a" 1, "b": "' + "x".repeat(50) + '"}', { bodyBytes: 30 }), "body_error"));
});
