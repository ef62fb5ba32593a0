/**
 * The app behind the WAF benchmarks (waf-corpus, waf-speed): a node:http
 * server in its own process that answers 200 with a fixed 100-byte body to
 * any method on any path, after reading and discarding the request body. It
 * counts requests and body bytes, in all and per path (the first 32 paths;
 * later ones under "(other)"); `GET /__waf_bench_counts` returns them, so a
 * benchmark can check that what it timed reached the app, bodies included.
 *
 * `node waf-corpus-app.js READY_FILE` writes {port, pid} to READY_FILE.
 */
import type { IncomingMessage } from "node:http";
import { fixedBody, serveCountingApp } from "./lib/counting-app.js";

export const APP_BODY_BYTES = 100;
export const COUNTS_PATH = "/__waf_bench_counts";

export interface PathCounts {
  requests: number;
  bodyBytes: number;
}

export interface AppCounts extends PathCounts {
  /** Path (without the query) → its counts. */
  paths: Record<string, PathCounts>;
}

const MAX_PATHS = 32;

function main(readyFile: string): void {
  // no prototype: corpus paths such as "/__proto__" are just keys
  const counts: AppCounts = { requests: 0, bodyBytes: 0, paths: Object.create(null) as Record<string, PathCounts> };
  let pathCount = 0;
  const count = (req: IncomingMessage, bytes: number): void => {
    counts.requests++;
    counts.bodyBytes += bytes;
    let path = (req.url ?? "").split("?")[0]!.slice(0, 200);
    if (counts.paths[path] === undefined && pathCount >= MAX_PATHS) path = "(other)";
    let p = counts.paths[path];
    if (p === undefined) {
      p = counts.paths[path] = { requests: 0, bodyBytes: 0 };
      pathCount++;
    }
    p.requests++;
    p.bodyBytes += bytes;
  };
  serveCountingApp(readyFile, fixedBody("waf bench: the app behind the proxy answered.", APP_BODY_BYTES), () => counts, count, {
    countsPath: COUNTS_PATH,
    // corpus requests may be odd (long headers, strange methods): accept what the proxy forwards
    server: { insecureHTTPParser: true, maxHeaderSize: 256 * 1024, requestTimeout: 0 },
    readBody: true,
  });
}

// imported for its constants by the benchmarks; run as a script it serves
const readyArg = process.argv[2];
if (process.argv[1]?.endsWith("waf-corpus-app.js")) {
  if (!readyArg) {
    process.stderr.write("usage: waf-corpus-app.js READY_FILE\n");
    process.exit(2);
  }
  main(readyArg);
}
