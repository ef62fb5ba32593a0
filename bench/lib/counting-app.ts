/**
 * The trivial app the proxy benchmarks put behind their proxies: a node:http
 * server in its own process answering with a fixed body, counting what it
 * saw through `count(req)`, serving the counts at `GET /__counts`, writing
 * {port, pid} to a ready file and stopping on SIGTERM.
 */
import { writeFileSync } from "node:fs";
import { createServer, type IncomingMessage } from "node:http";

/** A body of exactly `bytes` bytes, newline-terminated. */
export function fixedBody(text: string, bytes: number): Buffer {
  return Buffer.from(text.padEnd(bytes - 1, ".").slice(0, bytes - 1) + "\n");
}

export function serveCountingApp(readyFile: string, body: Buffer, counts: () => unknown, count: (req: IncomingMessage) => void): void {
  const server = createServer((req, res) => {
    if (req.url === "/__counts") {
      const text = JSON.stringify(counts());
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    count(req);
    res.writeHead(200, { "content-type": "text/plain", "content-length": body.length });
    res.end(body);
  });
  // the proxies keep their upstream connections for a while: do not close them under load
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
