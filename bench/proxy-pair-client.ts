/**
 * The proxy-pair load client, run in its own process so it never shares an
 * event loop with anything measured. `node proxy-pair-client.js JSON`, one
 * JSON line on stdout:
 *  - latency: sequential GETs on one keep-alive connection (undici Client),
 *    after a warm-up on the same connection; per-request latency.
 *  - throughput: `connections` keep-alive connections, one request in flight
 *    each, for a fixed time (the fallback when wrk is not installed).
 * Every response must be 200 with exactly `expectBytes` of body.
 */
import { performance } from "node:perf_hooks";
import { Client, Pool, type Dispatcher } from "undici";

export type ClientJob =
  | { mode: "latency"; url: string; warmup: number; count: number; maxMs: number; expectBytes: number }
  | { mode: "throughput"; url: string; connections: number; warmupMs: number; durationMs: number; expectBytes: number };

export interface LatencyOutput {
  mode: "latency";
  done: number;
  failed: number;
  firstError?: string;
  elapsedMs: number;
  truncated: boolean;
  /** Connections the client opened (1 when keep-alive held throughout). */
  connections: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
}

export interface ThroughputOutput {
  mode: "throughput";
  done: number;
  failed: number;
  firstError?: string;
  elapsedMs: number;
  reqPerSec: number;
  connections: number;
  p50Ms: number;
  p99Ms: number;
}

function pct(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

async function once(d: Dispatcher, path: string, expectBytes: number): Promise<void> {
  const { statusCode, body } = await d.request({ path, method: "GET" });
  const buf = Buffer.from(await body.arrayBuffer());
  if (statusCode !== 200) throw new Error(`HTTP ${statusCode}: ${buf.toString("utf8").slice(0, 200)}`);
  if (buf.length !== expectBytes) throw new Error(`body of ${buf.length} bytes, expected ${expectBytes}`);
}

async function latency(job: Extract<ClientJob, { mode: "latency" }>): Promise<LatencyOutput> {
  const u = new URL(job.url);
  let connections = 0;
  const client = new Client(u.origin, { pipelining: 1, keepAliveTimeout: 120_000, keepAliveMaxTimeout: 120_000 });
  client.on("connect", () => connections++);
  const path = `${u.pathname}${u.search}`;
  try {
    for (let i = 0; i < job.warmup; i++) await once(client, path, job.expectBytes);
    const lat = new Float64Array(job.count);
    let done = 0;
    let failed = 0;
    let firstError: string | undefined;
    const start = performance.now();
    const stopAt = start + job.maxMs;
    let i = 0;
    for (; i < job.count && failed < 10 && performance.now() < stopAt; i++) {
      const t0 = performance.now();
      try {
        await once(client, path, job.expectBytes);
        lat[done++] = performance.now() - t0;
      } catch (err) {
        failed++;
        firstError ??= (err as Error).message;
      }
    }
    const elapsedMs = performance.now() - start;
    const s = lat.subarray(0, done).sort();
    const mean = s.reduce((a, v) => a + v, 0) / Math.max(1, done);
    return { mode: "latency", done, failed, firstError, elapsedMs, truncated: i < job.count, connections, p50Ms: pct(s, 50), p99Ms: pct(s, 99), meanMs: mean };
  } finally {
    await client.close().catch(() => undefined);
  }
}

async function throughput(job: Extract<ClientJob, { mode: "throughput" }>): Promise<ThroughputOutput> {
  const u = new URL(job.url);
  let connections = 0;
  const pool = new Pool(u.origin, { connections: job.connections, pipelining: 1, keepAliveTimeout: 120_000, keepAliveMaxTimeout: 120_000 });
  pool.on("connect", () => connections++);
  const path = `${u.pathname}${u.search}`;
  let failed = 0;
  let firstError: string | undefined;
  const lat: number[] = [];
  let measuring = false;
  const worker = async (until: number): Promise<void> => {
    while (performance.now() < until && failed < 100) {
      const t0 = performance.now();
      try {
        await once(pool, path, job.expectBytes);
        if (measuring) lat.push(performance.now() - t0);
      } catch (err) {
        if (!measuring) throw err;
        failed++;
        firstError ??= (err as Error).message;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: job.connections }, () => worker(performance.now() + job.warmupMs)));
    measuring = true;
    // tells the bench to start its CPU and memory window now that the warm-up is over
    process.stdout.write(`${JSON.stringify({ event: "measuring" })}\n`);
    const start = performance.now();
    await Promise.all(Array.from({ length: job.connections }, () => worker(start + job.durationMs)));
    const elapsedMs = performance.now() - start;
    const s = Float64Array.from(lat).sort();
    return { mode: "throughput", done: lat.length, failed, firstError, elapsedMs, reqPerSec: (lat.length * 1000) / elapsedMs, connections, p50Ms: pct(s, 50), p99Ms: pct(s, 99) };
  } finally {
    await pool.close().catch(() => undefined);
  }
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? "{}") as ClientJob;
  const out = job.mode === "latency" ? await latency(job) : await throughput(job);
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`proxy-pair client: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
