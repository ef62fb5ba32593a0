import test from "ava";
import { one, pairs, post } from "./helpers.js";

const CT = "multipart/form-data; boundary=XyZ";

/** Builds a body from parts (each: header lines, data) with CRLF and the final boundary. */
function body(parts: [string[], string][], b = "XyZ"): string {
  let s = "";
  for (const [headers, data] of parts) s += `--${b}\r\n${headers.join("\r\n")}\r\n\r\n${data}\r\n`;
  return s + `--${b}--\r\n`;
}

const field = (name: string, value: string): [string[], string] => [[`Content-Disposition: form-data; name="${name}"`], value];

test("fields become body args, files go to files/files_names, every part header is kept", (t) => {
  const p = post(
    CT,
    body([
      field("a", "1"),
      [['Content-Disposition: form-data; name="up"; filename="shell.php"', "Content-Type: application/x-php"], "<?php system($_GET[1]);"],
      [["content-disposition: form-data; name=\"b\"", "Content-Type: text/plain; charset=utf-7"], "+ADw-script+AD4-\r\nline2"],
      [['Content-Disposition: form-data; name="empty"; filename=""'], ""],
    ]),
  );
  t.deepEqual(pairs(p, "body_args"), [
    ["a", "1"],
    ["b", "+ADw-script+AD4-\r\nline2"],
  ]);
  t.deepEqual(pairs(p, "files"), [
    ["up", "shell.php"],
    ["empty", ""],
  ]);
  t.deepEqual(pairs(p, "files_names"), [
    ["up", "up"],
    ["empty", "empty"],
  ]);
  t.deepEqual(pairs(p, "multipart_headers"), [
    ["content-disposition", 'form-data; name="a"'],
    ["content-disposition", 'form-data; name="up"; filename="shell.php"'],
    ["content-type", "application/x-php"],
    ["content-disposition", 'form-data; name="b"'],
    ["content-type", "text/plain; charset=utf-7"],
    ["content-disposition", 'form-data; name="empty"; filename=""'],
  ]);
  t.is(one(p, "body_processor"), "multipart");
  t.false(p.collections.has("body_error"));
  t.deepEqual(p.exceeded, []);
});

test("quoted parameters: escapes, semicolons and backslashes inside quotes", (t) => {
  const p = post(
    CT,
    body([
      [['Content-Disposition: form-data; name="n;x"; filename="te\\"st\\\\.txt"'], "d"],
      [['Content-Disposition: form-data; name="w"; filename="C:\\dir\\a.jsp"'], "d"],
      [["Content-Disposition: form-data; name=tok; filename=plain.txt"], "d"],
    ]),
  );
  t.deepEqual(pairs(p, "files"), [
    ["n;x", 'te"st\\.txt'],
    ["w", "C:\\dir\\a.jsp"],
    ["tok", "plain.txt"],
  ]);
  t.false(p.collections.has("body_error"));
});

test("filename* is decoded; when it disagrees with filename both are inspected and it is an error", (t) => {
  const ok = post(CT, body([[["Content-Disposition: form-data; name=\"f\"; filename*=UTF-8''%e2%82%ac%20rates.txt"], "x"]]));
  t.deepEqual(pairs(ok, "files"), [["f", "\u00e2\u0082\u00ac rates.txt"]]);
  t.false(ok.collections.has("body_error"));
  const bad = post(CT, body([[["Content-Disposition: form-data; name=\"f\"; filename=\"a.txt\"; filename*=UTF-8''a.php"], "x"]]));
  t.deepEqual(pairs(bad, "files"), [
    ["f", "a.txt"],
    ["f", "a.php"],
  ]);
  t.regex(one(bad, "body_error") ?? "", /filename and filename\* disagree/);
});

test("a quoted boundary and transport padding are accepted", (t) => {
  const p = post('multipart/form-data; boundary="a:b=c"', body([field("k", "v")], "a:b=c").replace("--a:b=c\r\n", "--a:b=c  \r\n"));
  t.deepEqual(pairs(p, "body_args"), [["k", "v"]]);
  t.false(p.collections.has("body_error"));
});

test("a boundary string inside data that is not a delimiter stays data (but is suspicious)", (t) => {
  const p = post(CT, body([field("k", "a--XyZ b")]));
  t.deepEqual(pairs(p, "body_args"), [["k", "a--XyZ b"]]);
  t.false(p.collections.has("body_error"));
  const q = post(CT, body([field("k", "a\r\n--XyZfoo\r\nb")]));
  t.deepEqual(pairs(q, "body_args"), [["k", "a\r\n--XyZfoo\r\nb"]]);
  t.regex(one(q, "body_error") ?? "", /boundary followed by other characters/);
});

test("strictness problems are body errors", (t) => {
  const good = body([field("a", "1"), field("b", "2")]);
  const cases: [string, string, RegExp][] = [
    ["multipart/form-data", good, /missing boundary/],
    ["multipart/form-data; boundary=XyZ; boundary=Q", good, /more than one boundary/],
    ["multipart/form-data; boundary=a/b", body([field("a", "1")], "a/b"), /unquoted boundary/],
    ['multipart/form-data; boundary="a{b"', body([field("a", "1")], "a{b"), /invalid character in boundary/],
    ["multipart/form-data; boundary = XyZ", good, /whitespace around the boundary/],
    ["multipart/form-data; boundary=" + "x".repeat(71), body([field("a", "1")], "x".repeat(71)), /boundary length/],
    [CT, good.slice(0, good.lastIndexOf("--XyZ--")), /missing final boundary/],
    [CT, good.replace(/\r\n/g, "\n"), /LF line ending/],
    [CT, "preamble\r\n" + good, /data before the first boundary/],
    [CT, good + "trailing junk", /data after the final boundary/],
    [CT, body([[["Content-Type: text/plain"], "x"]]), /part without Content-Disposition/],
    [CT, body([[['Content-Disposition: form-data; name="a"', 'Content-Disposition: form-data; name="b"'], "x"]]), /more than one Content-Disposition/],
    [CT, body([[['Content-Disposition: form-data; name="a"; name="b"'], "x"]]), /repeated Content-Disposition parameter name/],
    [CT, body([[['Content-Disposition: form-data; name="a"; filename="x"; filename="y"'], "x"]]), /repeated Content-Disposition parameter filename/],
    [CT, body([[['Content-Disposition: form-data; name="a"', " folded"], "x"]]), /header folding/],
    [CT, body([[['Content-Disposition: form-data; name="a"', "NoColonHere"], "x"]]), /invalid part header/],
    [CT, body([[['Content-Disposition: attachment; name="a"'], "x"]]), /not form-data/],
    [CT, body([[["Content-Disposition: form-data"], "x"]]), /part without a name/],
    [CT, body([[['Content-Disposition: form-data; name="a" filename="b"'], "x"]]), /missing semicolon/],
    [CT, body([[['Content-Disposition: form-data; name="a'], "x"]]), /unterminated quoted string/],
    [CT, "--XyZ\r\ntest\r\n--XyZ\r\nyet another test\r\n--XyZ--\r\n", /invalid part header/],
    [CT, "no boundary at all", /no boundary in the body/],
    [CT, "--XyZjunk\r\n", /boundary followed by other characters|no boundary/],
  ];
  for (const [ct, b, re] of cases) {
    const p = post(ct, b);
    t.regex(one(p, "body_error") ?? "", re, `${ct} ${JSON.stringify(b.slice(0, 80))}`);
    t.true((one(p, "body_error") ?? "").startsWith("multipart: "));
  }
});

test("parts are still collected after a strictness problem", (t) => {
  const p = post(CT, "junk\r\n" + body([field("a", "<script>")]));
  t.deepEqual(pairs(p, "body_args"), [["a", "<script>"]]);
  t.truthy(one(p, "body_error"));
  const q = post(CT, body([field("a", "1")]).replace(/\r\n/g, "\n"));
  t.deepEqual(pairs(q, "body_args"), [["a", "1"]]);
});

test("an empty multipart body (only the final boundary) is fine", (t) => {
  const p = post(CT, "--XyZ--\r\n");
  t.false(p.collections.has("body_error"));
  t.false(p.collections.has("body_args"));
});

test("parts past the limit are dropped and reported", (t) => {
  const parts = Array.from({ length: 5 }, (_, i) => field(`f${i}`, `${i}`));
  const p = post(CT, body(parts), { parts: 3 });
  t.deepEqual(p.exceeded, ["parts"]);
  t.deepEqual(pairs(p, "body_args").map((x) => x[0]), ["f0", "f1", "f2"]);
  t.false(p.collections.has("body_error"));
});

test("a multipart body cut by the byte limit is not a missing-boundary error", (t) => {
  const b = body([field("a", "1"), field("big", "x".repeat(500))]);
  const p = post(CT, b, { bodyBytes: 120 });
  t.deepEqual(p.exceeded, ["body_bytes"]);
  t.false(p.collections.has("body_error"));
  t.deepEqual(pairs(p, "body_args")[0], ["a", "1"]);
});

test("a body cut inside a part's headers keeps the headers read and reports no error", (t) => {
  const b = body([field("a", "1"), [['Content-Disposition: form-data; name="f"; filename="very-long-name.txt"', "Content-Type: text/plain"], "x"]]);
  const cut = b.indexOf("very-long") + 4;
  const p = post(CT, b + "x".repeat(200), { bodyBytes: cut });
  t.deepEqual(p.exceeded, ["body_bytes"]);
  t.false(p.collections.has("body_error"));
  t.deepEqual(pairs(p, "body_args"), [["a", "1"]]);
  t.false(p.collections.has("files"));
  // Not cut: the same unfinished headers are an error.
  t.regex(one(post(CT, b.slice(0, cut)), "body_error") ?? "", /part headers not terminated/);
});
