/**
 * The auth-cost load client used when wrk is not installed: an undici Pool
 * in its own process (so it never shares an event loop with anything
 * measured), `connections` keep-alive connections with one request in
 * flight each, for a fixed time after a warm-up. Requests carry fixed
 * headers, or (`sign`) a fresh Kong hmac-auth signature each, made here.
 * Every response must be 200 with exactly `expectBytes` of body.
 * `node auth-cost-client.js JSON` prints `{"event":"measuring"}` when the
 * warm-up ends, then its result as one JSON line.
 */
import { performance } from "node:perf_hooks";
import { Pool } from "undici";
import { signHmac } from "./auth-cost-setup.js";

export interface LoadJob {
  origin: string;
  /** Path of every request, or the route of signed ones (`/<route>/hello?n=…`). */
  path: string;
  headers: Record<string, string>;
  sign?: { route: string; secret: string };
  connections: number;
  warmupMs: number;
  durationMs: number;
  expectBytes: number;
}

export interface LoadOutput {
  done: number;
  failed: number;
  firstError?: string;
  elapsedMs: number;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

function pct(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? "{}") as LoadJob;
  const pool = new Pool(job.origin, { connections: job.connections, pipelining: 1, keepAliveTimeout: 120_000, keepAliveMaxTimeout: 120_000 });
  const secret = job.sign ? { hmacSecret: job.sign.secret } : undefined;
  let failed = 0;
  let firstError: string | undefined;
  let measuring = false;
  const lat: number[] = [];
  const once = async (): Promise<void> => {
    let path = job.path;
    let headers = job.headers;
    if (secret && job.sign) {
      const s = signHmac(secret, job.sign.route);
      path = s.url;
      headers = { ...headers, date: s.date, authorization: s.authorization };
    }
    const { statusCode, body } = await pool.request({ path, method: "GET", headers });
    const buf = Buffer.from(await body.arrayBuffer());
    if (statusCode !== 200) throw new Error(`HTTP ${statusCode}: ${buf.toString("utf8").slice(0, 200)}`);
    if (buf.length !== job.expectBytes) throw new Error(`body of ${buf.length} bytes, expected ${job.expectBytes}`);
  };
  const worker = async (until: number): Promise<void> => {
    while (performance.now() < until && failed < 100) {
      const t0 = performance.now();
      try {
        await once();
        if (measuring) lat.push(performance.now() - t0);
      } catch (err) {
        if (!measuring) throw err;
        failed++;
        firstError ??= (err as Error).message;
      }
    }
  };
  try {
    const warmEnd = performance.now() + job.warmupMs;
    await Promise.all(Array.from({ length: job.connections }, () => worker(warmEnd)));
    measuring = true;
    process.stdout.write(`${JSON.stringify({ event: "measuring" })}\n`);
    const start = performance.now();
    await Promise.all(Array.from({ length: job.connections }, () => worker(start + job.durationMs)));
    const elapsedMs = performance.now() - start;
    const s = Float64Array.from(lat).sort();
    const out: LoadOutput = { done: lat.length, failed, firstError, elapsedMs, reqPerSec: (lat.length * 1000) / elapsedMs, p50Ms: pct(s, 50), p99Ms: pct(s, 99) };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } finally {
    await pool.close().catch(() => undefined);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`auth-cost client: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
