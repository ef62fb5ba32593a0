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
import type { RouteCounts } from "./auth-cost-setup.js";
import { fixedBody, serveCountingApp } from "./lib/counting-app.js";

const [readyFile, bytesArg] = process.argv.slice(2);
const bodyBytes = Number(bytesArg);
if (!readyFile || !Number.isInteger(bodyBytes) || bodyBytes < 2) {
  process.stderr.write("usage: auth-cost-app.js READY_FILE BODY_BYTES\n");
  process.exit(2);
} else {
  const counts: Record<string, RouteCounts> = {};
  serveCountingApp(readyFile, fixedBody("auth-cost: a small response from the app behind the proxy.", bodyBytes), () => counts, (req) => {
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
  });
}
