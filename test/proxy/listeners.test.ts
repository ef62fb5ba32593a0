import test, { type ExecutionContext } from "ava";
import type { IncomingMessage, ServerResponse } from "node:http";
import { connect } from "node:net";
import { listenerSchema } from "../../proxy/config/schema.js";
import { createListenerServer, listen } from "../../proxy/listeners.js";

/** Sends raw bytes on one connection and collects everything the server writes until it closes (bounded by timeoutMs). */
function exchange(port: number, bytes: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1");
    let got = "";
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no close within ${timeoutMs} ms; got ${JSON.stringify(got)}`));
    }, timeoutMs);
    s.setEncoding("latin1");
    s.on("data", (d: string) => (got += d));
    s.on("close", () => {
      clearTimeout(timer);
      resolve(got);
    });
    s.on("error", () => undefined);
    s.write(bytes);
  });
}

/** An ingress listener server on a free loopback port, with `handler` for its requests; closed when the test ends. */
async function startListener(t: ExecutionContext, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<number> {
  const l = listenerSchema.parse({ name: "in", kind: "ingress", listen: "127.0.0.1:0", routes: [{ name: "all", cluster: "app" }] });
  const { server } = createListenerServer(l, undefined);
  server.on("request", handler);
  const port = await listen(server, "127.0.0.1:0");
  t.teardown(() => server.close());
  return port;
}

test("a malformed request after a pipelined one is refused only after the earlier response, in order", async (t) => {
  // a slow handler: the 400 for the bad request must not overtake this answer
  const port = await startListener(t, (req, res) => {
    setTimeout(() => res.end(`slow answer for ${req.url}`), 150);
  });
  const got = await exchange(port, "GET /first HTTP/1.1\r\nHost: a\r\n\r\nGET /bad HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n");
  const ok = got.indexOf("HTTP/1.1 200");
  const bad = got.indexOf("HTTP/1.1 400");
  t.true(ok >= 0, got);
  t.true(got.includes("slow answer for /first"), got);
  t.true(bad > ok, got);
});

test("a malformed request alone is refused at once with 400 and the connection closed", async (t) => {
  const port = await startListener(t, (_req, res) => res.end("never"));
  const got = await exchange(port, "GET / HTTP/1.1\r\nBad Header\r\n\r\n");
  t.regex(got, /^HTTP\/1\.1 400 Bad Request\r\n/);
  t.false(got.includes("never"));
});

test("CONNECT is answered 405 with a JSON error, not dropped", async (t) => {
  const port = await startListener(t, (_req, res) => res.end("never"));
  const got = await exchange(port, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
  t.regex(got, /^HTTP\/1\.1 405 Method Not Allowed\r\n/);
  t.true(got.includes('"code":"method_not_allowed"'), got);
});
