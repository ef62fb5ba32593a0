/**
 * The auth-cost app: a trivial node:http server in its own process that
 * answers every GET with the same 100-byte body and counts, per route (the
 * first path segment), the requests it saw, the identity headers the proxy
 * set (x-consumer-username, x-user-id: value → count, at most 16 values) and
 * the requests that still carried a credential (Authorization, apikey).
 * `GET /__counts` returns them, so the bench can check that what it timed
 * really passed authentication and that no credential reached the app.
 *
 * `node auth-cost-app.js READY_FILE BODY_BYTES` writes {port, pid} to READY_FILE.
 */
import { writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { RouteCounts } from "./auth-cost-setup.js";

const [readyFile, bytesArg] = process.argv.slice(2);
const bodyBytes = Number(bytesArg);
if (!readyFile || !Number.isInteger(bodyBytes) || bodyBytes < 2) {
  process.stderr.write("usage: auth-cost-app.js READY_FILE BODY_BYTES\n");
  process.exit(2);
} else {
  const body = Buffer.from("auth-cost: a small response from the app behind the proxy.".padEnd(bodyBytes - 1, ".").slice(0, bodyBytes - 1) + "\n");
  const counts: Record<string, RouteCounts> = {};
  const server = createServer((req, res) => {
    if (req.url === "/__counts") {
      const text = JSON.stringify(counts);
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    const route = (req.url ?? "/").split("/")[1]?.split("?")[0] || "-";
    const c = (counts[route] ??= { total: 0, identity: {}, credential: 0 });
    if (Object.keys(counts).length > 64) delete counts[route];
    c.total++;
    // the same few steps on every route, protected or not, so the app costs the same per request everywhere
    const user = req.headers["x-consumer-username"];
    const sub = req.headers["x-user-id"];
    const key = typeof user === "string" ? `x-consumer-username=${user}` : typeof sub === "string" ? `x-user-id=${sub}` : "";
    if (key !== "" && (c.identity[key] !== undefined || Object.keys(c.identity).length < 16)) c.identity[key] = (c.identity[key] ?? 0) + 1;
    if (req.headers.authorization !== undefined || req.headers.apikey !== undefined) c.credential++;
    res.writeHead(200, { "content-type": "text/plain", "content-length": body.length });
    res.end(body);
  });
  // the proxy keeps its upstream connections for a while: do not close them under load
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 125_000;
  server.listen(0, "127.0.0.1", () => {
    const a = server.address();
    writeFileSync(readyFile, JSON.stringify({ port: typeof a === "object" && a ? a.port : 0, pid: process.pid }) + "\n");
  });
  process.once("SIGTERM", () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
}
