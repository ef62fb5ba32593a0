/**
 * The proxy-pair app: a trivial node:http server in its own process that
 * answers every GET with the same 100-byte body. It counts the requests by
 * the way they came, from headers only the second proxy of each pair sets:
 * the sidecar's XFCC naming the calling sidecar's SPIFFE ID (set only after
 * the mTLS peer was validated), or nginx B's tags with a verified client
 * certificate over TLS 1.3. `GET /__counts` returns the counts, so the bench
 * can check that what it timed really took the path it claims.
 *
 * `node proxy-pair-app.js READY_FILE CLIENT_SPIFFE_ID BODY_BYTES` writes {port, pid} to READY_FILE.
 */
import { fixedBody, serveCountingApp } from "./lib/counting-app.js";

const [readyFile, clientId, bytesArg] = process.argv.slice(2);
const bodyBytes = Number(bytesArg);
if (!readyFile || !clientId || !Number.isInteger(bodyBytes) || bodyBytes < 2) {
  process.stderr.write("usage: proxy-pair-app.js READY_FILE CLIENT_SPIFFE_ID BODY_BYTES\n");
  process.exit(2);
}

const counts = { direct: 0, mesh: 0, nginx: 0, other: 0 };

function classify(h: NodeJS.Dict<string | string[]>): keyof typeof counts {
  const xfcc = h["x-forwarded-client-cert"];
  const via = h["x-bench-via"];
  if (xfcc === undefined && via === undefined) return "direct";
  if (typeof xfcc === "string" && via === undefined && xfcc.split(";").includes(`URI=${clientId}`)) return "mesh";
  if (via === "nginx-b" && xfcc === undefined && h["x-bench-client-verify"] === "SUCCESS" && h["x-bench-tls"] === "TLSv1.3") return "nginx";
  return "other";
}

serveCountingApp(readyFile!, fixedBody("proxy-pair: a small response from the app behind the proxies.", bodyBytes), () => counts, (req) => {
  counts[classify(req.headers)]++;
});
