import test from "ava";
import { downstreamRawHeaders, hostOf, requestIdFor, upstreamRequestHeaders } from "../../../proxy/http/headers.js";

const opts = { requestId: "rid-1" };

test("upstream headers: hop-by-hop headers are dropped, end-to-end ones kept, the client's object left alone", (t) => {
  const src = { host: "shop.example", "user-agent": "curl/8", connection: "keep-alive", "keep-alive": "timeout=5", te: "trailers", "transfer-encoding": "chunked", accept: "*/*" };
  const out = upstreamRequestHeaders(src, opts);
  t.deepEqual(out, { host: "shop.example", "user-agent": "curl/8", accept: "*/*", "x-request-id": "rid-1" });
  t.is(src.connection, "keep-alive");
});

test("upstream headers: headers named in Connection are dropped, whatever the case and spacing", (t) => {
  const src = { connection: "Keep-Alive , X-Secret,,x-other", "x-secret": "s", "x-other": "o", "x-kept": "k" };
  t.deepEqual(upstreamRequestHeaders(src, opts), { "x-kept": "k", "x-request-id": "rid-1" });
  const list = { connection: ["close", "X-Secret"], "x-secret": "s", "x-kept": "k" } as unknown as Record<string, string>;
  t.deepEqual(upstreamRequestHeaders(list, opts), { "x-kept": "k", "x-request-id": "rid-1" });
});

test("upstream headers: Connection: close or keep-alive drops the header of that name and nothing else", (t) => {
  for (const connection of ["close", "keep-alive", "Keep-Alive", "Close"]) {
    const out = upstreamRequestHeaders({ connection, close: "x", "keep-alive": "timeout=5", accept: "*/*" }, opts);
    const want = connection.toLowerCase() === "close" ? { accept: "*/*", "x-request-id": "rid-1" } : { close: "x", accept: "*/*", "x-request-id": "rid-1" };
    t.deepEqual(out, want, connection);
  }
});

test("upstream headers: a client's XFCC and request id are replaced, X-Forwarded-For appended", (t) => {
  const src = { "x-forwarded-client-cert": "URI=spiffe://evil/x", "x-request-id": "forged", "x-forwarded-for": "10.0.0.1" };
  const out = upstreamRequestHeaders(src, { requestId: "rid-2", xfcc: "URI=spiffe://td/ns/a", forwardedFor: "127.0.0.1", forwardedProto: "https" });
  t.deepEqual(out, { "x-request-id": "rid-2", "x-forwarded-client-cert": "URI=spiffe://td/ns/a", "x-forwarded-for": "10.0.0.1, 127.0.0.1", "x-forwarded-proto": "https" });
  t.false("x-forwarded-client-cert" in upstreamRequestHeaders(src, opts));
});

test("upstream headers: a WebSocket upgrade keeps Upgrade and says Connection: upgrade", (t) => {
  const out = upstreamRequestHeaders({ connection: "Upgrade", upgrade: "websocket", "sec-websocket-key": "k" }, { ...opts, upgrade: true });
  t.is(out.connection, "upgrade");
  t.is(out.upgrade, "websocket");
  t.is(out["sec-websocket-key"], "k");
});

test("response headers: hop-by-hop and Connection-named headers are dropped; names as sent, repeats kept apart", (t) => {
  const raw = (...xs: string[]): Buffer[] => xs.map((x) => Buffer.from(x, "latin1"));
  t.deepEqual(downstreamRawHeaders(raw("Content-Type", "text/plain", "Connection", "keep-alive", "Keep-Alive", "timeout=5", "Content-Length", "3")), [
    "Content-Type",
    "text/plain",
    "Content-Length",
    "3",
  ]);
  t.deepEqual(
    downstreamRawHeaders(raw("connection", "close, X-Internal", "x-internal", "1", "Set-Cookie", "a=1", "Set-Cookie", "b=2", "Transfer-Encoding", "chunked", "connection", "x-other", "X-Other", "2")),
    ["Set-Cookie", "a=1", "Set-Cookie", "b=2"],
  );
  // bytes above 0x7f come through as the latin1 characters undici decodes them as; a dangling name is ignored
  t.deepEqual(downstreamRawHeaders([Buffer.from("x-name"), Buffer.from([0x63, 0x61, 0x66, 0xe9]), Buffer.from("dangling")]), ["x-name", "caf\u00e9"]);
});

test("request ids: a caller's well-formed id is kept only when trusted; new ids are distinct", (t) => {
  t.is(requestIdFor({ "x-request-id": "abc-123" }, true), "abc-123");
  t.not(requestIdFor({ "x-request-id": "abc-123" }, false), "abc-123");
  t.not(requestIdFor({ "x-request-id": "bad id\r\nx: y" }, true), "bad id\r\nx: y");
  const ids = new Set(Array.from({ length: 1000 }, () => requestIdFor({}, false)));
  t.is(ids.size, 1000);
});

test("hostOf: lower-cases, splits the port, keeps IPv6 brackets", (t) => {
  t.deepEqual(hostOf("Shop.Example:8443"), { host: "shop.example", port: 8443 });
  t.deepEqual(hostOf("shop.example"), { host: "shop.example", port: undefined });
  t.deepEqual(hostOf("[::1]:80"), { host: "[::1]", port: 80 });
  t.deepEqual(hostOf("[::1]"), { host: "[::1]", port: undefined });
  t.deepEqual(hostOf(undefined), { host: "", port: undefined });
  t.deepEqual(hostOf("host:notaport"), { host: "host", port: undefined });
});
