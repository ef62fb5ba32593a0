/**
 * Child process for the crash test (not a test file): an attested node that
 * keeps asking the CA to sign, printing "serial <hex>" on stdout for every
 * certificate whose response arrived in full. It stops when the server goes
 * away (or after --max signings) and says why on stderr.
 *   node sign-loop.js --url URL --ca FILE --cert FILE --key FILE --spiffe-id ID --csr FILE [--concurrency 4] [--max 5000]
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { httpsRequest } from "./https.js";

const { values: a } = parseArgs({
  options: {
    url: { type: "string" },
    ca: { type: "string" },
    cert: { type: "string" },
    key: { type: "string" },
    "spiffe-id": { type: "string" },
    csr: { type: "string" },
    concurrency: { type: "string", default: "4" },
    max: { type: "string", default: "5000" },
  },
});

function need(v: string | undefined, name: string): string {
  if (!v) {
    process.stderr.write(`sign-loop: --${name} is required\n`);
    process.exit(2);
  }
  return v;
}

const url = `${need(a.url, "url")}/v1/sign`;
const ca = readFileSync(need(a.ca, "ca"), "utf8");
const cert = readFileSync(need(a.cert, "cert"), "utf8");
const key = readFileSync(need(a.key, "key"), "utf8");
const body = JSON.stringify({ spiffe_id: need(a["spiffe-id"], "spiffe-id"), csr: readFileSync(need(a.csr, "csr"), "utf8") });
const max = Number(a.max);
let started = 0;
let received = 0;

async function worker(n: number): Promise<void> {
  while (started < max) {
    started++;
    try {
      const r = await httpsRequest(url, { method: "POST", body, ca, cert, key });
      if (r.status !== 200) {
        process.stderr.write(`worker ${n}: status ${r.status} ${r.body}\n`);
        return;
      }
      const serial = (r.json() as { serial?: unknown }).serial;
      if (typeof serial !== "string") throw new Error(`no serial in ${r.body}`);
      received++;
      // stdout is a pipe: writes are synchronous on Linux, so nothing printed is lost at exit
      process.stdout.write(`serial ${serial}\n`);
    } catch (err) {
      process.stderr.write(`worker ${n}: ${err instanceof Error ? err.message : String(err)}\n`);
      return;
    }
  }
}

await Promise.all(Array.from({ length: Number(a.concurrency) }, (_, i) => worker(i)));
process.stderr.write(`done: ${received} received\n`);
