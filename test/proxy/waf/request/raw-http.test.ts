import test from "ava";
import { WafInputError, parseRawHttp, readRawHttp } from "../../../../proxy/waf/raw-http.js";
import type { WafInputErrorCode } from "../../../../proxy/waf/raw-http.js";

const raw = (s: string) => Buffer.from(s, "latin1");

function code(t: { throws: (fn: () => unknown, exp: object) => unknown }, s: string | Buffer, c: WafInputErrorCode): void {
  const err = t.throws(() => parseRawHttp(typeof s === "string" ? raw(s) : s), { instanceOf: WafInputError }) as WafInputError;
  if (err.code !== c) throw new Error(`expected ${c}, got ${err.code} (${err.message}) for ${JSON.stringify(String(s).slice(0, 80))}`);
}

test("CRLF request with Content-Length body", (t) => {
  const r = parseRawHttp(raw("POST /a?b=1 HTTP/1.1\r\nHost: x\r\nContent-Type:  text/plain \r\nContent-Length: 5\r\nX-Empty:\r\n\r\nhello"));
  t.is(r.method, "POST");
  t.is(r.uri, "/a?b=1");
  t.is(r.protocol, "HTTP/1.1");
  t.deepEqual(r.headers, [
    ["host", "x"],
    ["content-type", "text/plain"],
    ["content-length", "5"],
    ["x-empty", ""],
  ]);
  t.is(r.body?.toString(), "hello");
});

test("LF-only line endings, leading blank lines, EOF ending the headers", (t) => {
  const r = parseRawHttp(raw("\r\n\nGET / HTTP/1.0\nHost: x\nAccept: */*\n\n"));
  t.is(r.method, "GET");
  t.is(r.protocol, "HTTP/1.0");
  t.deepEqual(r.headers, [
    ["host", "x"],
    ["accept", "*/*"],
  ]);
  t.is(r.body, undefined);
  const s = parseRawHttp(raw("GET /x HTTP/1.1\r\nHost: y"));
  t.deepEqual(s.headers, [["host", "y"]]);
});

test("chunked bodies are de-chunked, with extensions and trailers; TE wins over Content-Length", (t) => {
  const r = readRawHttp(raw("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3;ext=1\r\nHi \r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\nNEXT"));
  t.is(r.input.body?.toString(), "Hi 0123456789");
  t.is(r.consumed, r.input.body === undefined ? 0 : raw("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3;ext=1\r\nHi \r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n").length);
  // The headers are kept for the rules, both of them.
  t.deepEqual(r.input.headers.map((h) => h[0]), ["transfer-encoding", "content-length"]);
  const lf = parseRawHttp(raw("POST / HTTP/1.1\nTransfer-Encoding: Chunked\n\n2\nab\n0\n"));
  t.is(lf.body?.toString(), "ab");
  const empty = parseRawHttp(raw("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"));
  t.is(empty.body, undefined);
});

test("bytes after the body are not part of the request", (t) => {
  const r = readRawHttp(raw("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nbarGET /a.html HTTP/1.1\r\n\r\n"));
  t.is(r.input.body?.toString(), "bar");
  t.is(r.consumed, "POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nbar".length);
  // No Content-Length and no Transfer-Encoding: no body (RFC 9112 §6.3).
  t.is(parseRawHttp(raw("POST / HTTP/1.1\r\nHost: x\r\n\r\nhi=test")).body, undefined);
});

test("header folding is joined with a space; odd bytes in the target and values are kept", (t) => {
  const r = parseRawHttp(raw("GET /get?ssrf=http://169\x02254/\xea HTTP/1.1\r\nX-A: one\r\n  two\r\nCookie: id=\x19 OR 1\r\n\r\n"));
  t.is(r.uri, "/get?ssrf=http://169\x02254/\xea");
  t.deepEqual(r.headers, [
    ["x-a", "one two"],
    ["cookie", "id=\x19 OR 1"],
  ]);
  t.is(parseRawHttp(raw("|GET / HTTP/1.1\r\n\r\n")).method, "|GET");
});

test("bad input throws typed errors with stable codes", (t) => {
  code(t, "", "bad_request_line");
  code(t, "\r\n\r\n", "bad_request_line");
  code(t, "GET /\r\n\r\n", "bad_request_line");
  code(t, "GET / \r\n\r\n", "bad_request_line");
  code(t, "GET / HTTP/2\r\n\r\n", "bad_request_line");
  code(t, "GET / HTTP/2.0\r\n\r\n", "bad_request_line");
  code(t, "GET / http/1.1\r\n\r\n", "bad_request_line");
  code(t, "G(T / HTTP/1.1\r\n\r\n", "bad_request_line");
  code(t, "GET /a b HTTP/1.1\r\n\r\n", "bad_request_line");
  code(t, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", "bad_request_line");
  code(t, "GET / HTTP/1.1\r\nNoColon\r\n\r\n", "bad_header");
  code(t, "GET / HTTP/1.1\r\n: v\r\n\r\n", "bad_header");
  code(t, "GET / HTTP/1.1\r\nBad Name: v\r\n\r\n", "bad_header");
  code(t, "GET / HTTP/1.1\r\nHost : v\r\n\r\n", "bad_header");
  code(t, "GET / HTTP/1.1\r\n folded: v\r\n\r\n", "bad_header");
  code(t, "GET / HTTP/1.1\r\nA: b\rInjected: c\r\n\r\n", "bad_header");
  code(t, "GET / HTTP/1.1\r\n" + "A: b\r\n".repeat(201) + "\r\n", "too_many_headers");
  t.notThrows(() => parseRawHttp(raw("GET / HTTP/1.1\r\n" + "A: b\r\n".repeat(200) + "\r\n")));
  code(t, "GET / HTTP/1.1\r\nA: " + "x".repeat(64 * 1024) + "\r\n\r\n", "headers_too_large");
  code(t, "GET / HTTP/1.1\r\nA: " + "x".repeat(70 * 1024), "headers_too_large");
  code(t, "POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\na", "bad_content_length");
  code(t, "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\na", "bad_content_length");
  code(t, "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", "bad_content_length");
  code(t, "POST / HTTP/1.1\r\nContent-Length: 1, 2\r\n\r\nab", "bad_content_length");
  t.is(parseRawHttp(raw("POST / HTTP/1.1\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nab")).body?.toString(), "ab");
  code(t, "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", "incomplete_body");
  code(t, "POST / HTTP/1.1\r\nContent-Length: 9000000\r\n\r\nabc", "body_too_large");
  code(t, "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", "bad_transfer_encoding");
  code(t, "POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n", "bad_transfer_encoding");
  code(t, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n", "bad_chunk");
  code(t, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n", "bad_chunk");
  code(t, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", "incomplete_body");
  code(t, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", "incomplete_body");
  code(t, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + "800000\r\n" + "x".repeat(0x800000) + "\r\n1\r\nx\r\n0\r\n\r\n", "body_too_large");
});

test("random bytes either parse or throw a WafInputError", (t) => {
  let s = 7;
  const next = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296;
  const pieces = ["GET", "POST", " ", "/", "HTTP/1.1", "\r\n", "\n", ":", "Content-Length: 3", "Transfer-Encoding: chunked", "3", "abc", "0", "\r", "\t", "x"];
  for (let i = 0; i < 3000; i++) {
    let str = "";
    const k = Math.floor(next() * 20);
    for (let j = 0; j < k; j++) str += pieces[Math.floor(next() * pieces.length)];
    try {
      parseRawHttp(raw(str));
    } catch (err) {
      if (!(err instanceof WafInputError)) {
        t.fail(`untyped error for ${JSON.stringify(str)}: ${String(err)}`);
        return;
      }
    }
  }
  t.pass();
});
