import test from "ava";
import { parseRequest } from "../../../../proxy/waf/request/parse.js";
import { BODY_COLLECTIONS, COLLECTIONS } from "../../../../proxy/waf/types.js";
import { one, pairs, post, req, values } from "./helpers.js";

test("a plain GET: scalars, path parts, headers; nothing the request lacks", (t) => {
  const p = parseRequest(
    req({
      uri: "/a/b/index.php",
      headers: [
        ["host", "example.test"],
        ["user-agent", "curl/8"],
        ["accept", "*/*"],
      ],
    }),
  );
  t.is(one(p, "method"), "GET");
  t.is(one(p, "protocol"), "HTTP/1.1");
  t.is(one(p, "uri"), "/a/b/index.php");
  t.is(one(p, "path"), "/a/b/index.php");
  t.is(one(p, "basename"), "index.php");
  t.deepEqual(pairs(p, "headers"), [
    ["host", "example.test"],
    ["user-agent", "curl/8"],
    ["accept", "*/*"],
  ]);
  t.deepEqual(values(p, "headers_names"), ["host", "user-agent", "accept"]);
  t.is(one(p, "body_size"), "0");
  t.is(one(p, "args_combined_size"), "0");
  for (const c of ["query", "query_args", "args", "cookies", "body", "body_processor", "body_error", "content_type"] as const) {
    t.false(p.collections.has(c), c);
  }
  t.deepEqual(p.exceeded, []);
  // Scalar collections hold one Arg named like the collection.
  t.deepEqual(p.collections.get("method"), [{ name: "method", value: "GET" }]);
  // Only known collections appear.
  for (const k of p.collections.keys()) t.true((COLLECTIONS as readonly string[]).includes(k));
});

test("query string: raw query kept, args decoded once, args = query + body", (t) => {
  const p = parseRequest(
    req({
      method: "POST",
      uri: "/s?q=a%2527+b&x=%3Cscript%3E&q=2",
      headers: [["content-type", "application/x-www-form-urlencoded; charset=UTF-8"]],
      body: "f=1&g=%41",
    }),
  );
  t.is(one(p, "query"), "q=a%2527+b&x=%3Cscript%3E&q=2");
  t.is(one(p, "path"), "/s");
  t.is(one(p, "basename"), "s");
  t.deepEqual(pairs(p, "query_args"), [
    ["q", "a%27 b"],
    ["x", "<script>"],
    ["q", "2"],
  ]);
  t.deepEqual(values(p, "query_args_names"), ["q", "x", "q"]);
  t.deepEqual(pairs(p, "body_args"), [
    ["f", "1"],
    ["g", "A"],
  ]);
  t.deepEqual(values(p, "args_names"), ["q", "x", "q", "f", "g"]);
  t.deepEqual(pairs(p, "args").length, 5);
  t.is(one(p, "content_type"), "application/x-www-form-urlencoded");
  t.is(one(p, "body_processor"), "urlencoded");
  t.is(one(p, "body"), "f=1&g=%41");
  t.is(one(p, "body_size"), "9");
  // 1+6 + 1+8 + 1+1 + 1+1 + 1+1 = 22
  t.is(one(p, "args_combined_size"), "22");
});

test("path and basename of odd targets are left undecoded", (t) => {
  const cases: [string, string, string, string | undefined][] = [
    ["/a%2fb/c%20d?x", "/a%2fb/c%20d", "c%20d", "x"],
    ["/dir/", "/dir/", "", undefined],
    ["*", "*", "*", undefined],
    ["http://host:8080/p/q.php?a=1", "/p/q.php", "q.php", "a=1"],
    ["http://host", "", "", undefined],
    ["1.2.3.4:80", "1.2.3.4:80", "1.2.3.4:80", undefined],
    ["/get/index.html?I=Like&Apples=Today#tag", "/get/index.html", "index.html", "I=Like&Apples=Today#tag"],
    ["/x?", "/x", "x", ""],
  ];
  for (const [uri, path, base, query] of cases) {
    const p = parseRequest(req({ uri }));
    t.is(one(p, "uri"), uri);
    t.is(one(p, "path"), path, uri);
    t.is(one(p, "basename"), base, uri);
    t.is(one(p, "query"), query, uri);
  }
  // A fragment is not special: what follows "#" is still inspected as an arg.
  const p = parseRequest(req({ uri: "/?a=1#<script>" }));
  t.deepEqual(pairs(p, "args"), [["a", "1#<script>"]]);
});

test("cookies from every Cookie header, trimmed, values as sent", (t) => {
  const p = parseRequest(
    req({
      headers: [
        ["cookie", "a=1; b = %41x ;; c"],
        ["x-other", "y"],
        ["cookie", "session=abc=def;d="],
      ],
    }),
  );
  t.deepEqual(pairs(p, "cookies"), [
    ["a", "1"],
    ["b", "%41x"],
    ["c", ""],
    ["session", "abc=def"],
    ["d", ""],
  ]);
  t.deepEqual(values(p, "cookies_names"), ["a", "b", "c", "session", "d"]);
  // Cookies are not args.
  t.false(p.collections.has("args"));
});

test("header names are lower-cased even if the caller forgot", (t) => {
  const p = parseRequest(req({ headers: [["Content-Type", "Application/JSON"], ["COOKIE", "k=v"]], method: "POST", body: '{"a":1}' }));
  t.deepEqual(values(p, "headers_names"), ["content-type", "cookie"]);
  t.is(one(p, "content_type"), "application/json");
  t.deepEqual(pairs(p, "cookies"), [["k", "v"]]);
  t.deepEqual(pairs(p, "body_args"), [["json.a", "1"]]);
});

test("content type picks the body processor; other types keep only the raw body", (t) => {
  const cases: [string, string][] = [
    ["application/x-www-form-urlencoded", "urlencoded"],
    ["application/json", "json"],
    ["application/vnd.api+json; charset=utf-8", "json"],
    ["multipart/form-data; boundary=x", "multipart"],
    ["application/xml", "xml"],
    ["text/xml", "xml"],
    ["application/soap+xml", "xml"],
    ["text/plain", "none"],
    ["application/octet-stream", "none"],
  ];
  for (const [ct, proc] of cases) t.is(one(post(ct, "z"), "body_processor"), proc, ct);
  const p = post("text/plain", "a=1&b=<script>");
  t.is(one(p, "body"), "a=1&b=<script>");
  t.false(p.collections.has("body_args"));
  t.false(p.collections.has("body_error"));
  // A body without Content-Type is inspected raw.
  const q = parseRequest(req({ method: "POST", body: "x=1" }));
  t.is(one(q, "body_processor"), "none");
  t.is(one(q, "body"), "x=1");
  t.false(q.collections.has("content_type"));
});

test("body bytes are latin1: every byte is one character", (t) => {
  const bytes = Buffer.from([0x61, 0x3d, 0xe9, 0x00, 0xff, 0x26, 0x62, 0x3d, 0x25, 0x43, 0x33, 0x25, 0x41, 0x39]);
  const p = post("application/x-www-form-urlencoded", bytes);
  t.is(one(p, "body"), "a=\u00e9\u0000\u00ff&b=%C3%A9");
  t.deepEqual(pairs(p, "body_args"), [
    ["a", "\u00e9\u0000\u00ff"],
    ["b", "\u00c3\u00a9"],
  ]);
});

test("body collections are only filled from a body", (t) => {
  const p = parseRequest(req({ uri: "/?a=1", headers: [["cookie", "c=1"]] }));
  for (const c of BODY_COLLECTIONS) t.false(p.collections.has(c), c);
});
