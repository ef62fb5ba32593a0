import test from "ava";
import { parseRequest } from "../../../../proxy/waf/request/parse.js";
import { limits, one, pairs, post, req, values } from "./helpers.js";

test("args past the limit are dropped; query and body share the count", (t) => {
  const p = parseRequest(
    req({ method: "POST", uri: "/?a=1&b=2&c=3", headers: [["content-type", "application/x-www-form-urlencoded"]], body: "d=4&e=5" }),
    limits({ args: 4 }),
  );
  t.deepEqual(p.exceeded, ["args"]);
  t.deepEqual(values(p, "args_names"), ["a", "b", "c", "d"]);
  t.deepEqual(values(p, "query_args_names"), ["a", "b", "c"]);
  t.deepEqual(values(p, "body_args_names"), ["d"]);
  const q = parseRequest(req({ uri: "/?a=1&b=2" }), limits({ args: 2 }));
  t.deepEqual(q.exceeded, []);
});

test("long names and values are cut to valueBytes", (t) => {
  const p = parseRequest(req({ uri: `/?${"n".repeat(10)}=${"v".repeat(20)}&ok=1` }), limits({ valueBytes: 8 }));
  t.deepEqual(p.exceeded, ["value_bytes"]);
  t.deepEqual(pairs(p, "args"), [
    ["nnnnnnnn", "vvvvvvvv"],
    ["ok", "1"],
  ]);
  t.is(one(p, "args_combined_size"), String(8 + 8 + 2 + 1));
  // The raw query itself is not cut: rules on it see everything.
  t.is(one(p, "query")?.length, 10 + 1 + 20 + 5);
  const h = parseRequest(req({ headers: [["x-long", "y".repeat(20)]] }), limits({ valueBytes: 8 }));
  t.deepEqual(pairs(h, "headers"), [["x-long", "yyyyyyyy"]]);
  t.deepEqual(h.exceeded, ["value_bytes"]);
});

test("body bytes past the limit: body cut, size is the full length", (t) => {
  const p = post("application/x-www-form-urlencoded", "a=1&b=" + "x".repeat(100), { bodyBytes: 10 });
  t.deepEqual(p.exceeded, ["body_bytes"]);
  t.is(one(p, "body"), "a=1&b=xxxx");
  t.is(one(p, "body_size"), "106");
  t.deepEqual(pairs(p, "body_args"), [
    ["a", "1"],
    ["b", "xxxx"],
  ]);
});

test("several limits at once are all reported, each once", (t) => {
  const p = post("application/json", JSON.stringify({ a: [[[["deep"]]]], b: "x".repeat(50), c: 1, d: 2 }), {
    depth: 2,
    valueBytes: 10,
    args: 2,
  });
  t.deepEqual([...p.exceeded].sort(), ["args", "depth", "value_bytes"]);
  t.is(values(p, "body_args").length, 2);
});

test("cookies, part headers and xml values are capped at limits.args entries too", (t) => {
  const c = parseRequest(req({ headers: [["cookie", "a=1; b=2; c=3; d=4"]] }), limits({ args: 2 }));
  t.deepEqual(values(c, "cookies_names"), ["a", "b"]);
  t.deepEqual(c.exceeded, ["args"]);
  const x = post("text/xml", "<r><a>1</a><a>2</a><a>3</a></r>", { args: 2 });
  t.is(pairs(x, "xml").length, 2);
  t.deepEqual(x.exceeded, ["args"]);
});

test("nonsense limits do not break the parser", (t) => {
  const p = parseRequest(req({ uri: "/?a=1" }), { bodyBytes: -1, args: Number.NaN, depth: 0, valueBytes: 0, parts: 0 });
  t.deepEqual(p.exceeded, ["args"]);
  t.false(p.collections.has("args"));
});
