/**
 * The trivial app the proxy benchmarks put behind their proxies: a node:http
 * server in its own process answering with a fixed body, counting what it
 * saw through `count(req, bodyBytes)`, serving the counts at `GET /__counts`
 * (or `opts.countsPath`), writing {port, pid} to a ready file and stopping on
 * SIGTERM.
 */
import { writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerOptions } from "node:http";

/** A body of exactly `bytes` bytes, newline-terminated. */
export function fixedBody(text: string, bytes: number): Buffer {
  return Buffer.from(text.padEnd(bytes - 1, ".").slice(0, bytes - 1) + "\n");
}

export interface CountingAppOptions {
  /** Where the counts are served; default `/__counts`. */
  countsPath?: string;
  /** Passed to `createServer`. */
  server?: ServerOptions;
  /** Read and discard the request body, then count (with its length) and answer; otherwise count and answer at once, with 0 body bytes. */
  readBody?: boolean;
}

export function serveCountingApp(
  readyFile: string,
  body: Buffer,
  counts: () => unknown,
  count: (req: IncomingMessage, bodyBytes: number) => void,
  opts: CountingAppOptions = {},
): void {
  const countsPath = opts.countsPath ?? "/__counts";
  const server = createServer(opts.server ?? {}, (req, res) => {
    if (req.url === countsPath) {
      const text = JSON.stringify(counts());
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    const answer = (bytes: number): void => {
      count(req, bytes);
      res.writeHead(200, { "content-type": "text/plain", "content-length": body.length });
      res.end(body);
    };
    if (!opts.readBody) return answer(0);
    let bytes = 0;
    req.on("data", (chunk: Buffer) => (bytes += chunk.length));
    req.on("end", () => answer(bytes));
    req.on("error", () => res.destroy());
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
