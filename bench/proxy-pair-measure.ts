/**
 * The two measurements of proxy-pair, each taken on all three paths in the
 * same run (the order rotates from run to run so that none always goes
 * first): latency of sequential requests on one keep-alive connection, and
 * throughput at N connections with the proxies' CPU and memory sampled
 * while the load runs.
 */
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { runJsonChild } from "./lib/json-child.js";
import { processCpuSeconds } from "./lib/process.js";
import { rss, type Rss } from "./lib/proc-status.js";
import type { BenchContext } from "./lib/types.js";
import { runWrk } from "./lib/wrk.js";
import type { ClientJob, LatencyOutput, ThroughputOutput } from "./proxy-pair-client.js";
import { BODY_BYTES, TARGETS, type PairTopology, type TargetName } from "./proxy-pair-setup.js";

export type PerTarget<T> = Record<TargetName, T>;

export interface LatencyFig {
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  done: number;
  failed: number;
  firstError?: string;
  connections: number;
  truncated: boolean;
}

/** Resident memory of one proxy process (or nginx master + worker) while the load ran. */
export interface MemFig {
  /** VmRSS of the last sample taken while the load was still running. */
  endBytes: number;
  /** RssAnon (private memory) of that sample. */
  endAnonBytes: number;
  /** Pss (shared pages divided among their users) of that sample. */
  endPssBytes: number;
  peakBytes: number;
}

export interface LoadFig {
  reqPerSec: number;
  requests: number;
  /** Socket errors, non-2xx responses or failed requests. */
  errors: number;
  p50Ms: number;
  p99Ms: number;
  /** Cores busy in the first and second proxy (A, B) during the load; NaN for direct. */
  coresA: number;
  coresB: number;
  appCores: number;
  clientCores: number;
  memA: MemFig;
  memB: MemFig;
}

export type LoadGenerator = { kind: "wrk"; bin: string; threads: number } | { kind: "undici" };

const rotate = <T>(xs: readonly T[], k: number): T[] => xs.map((_, i) => xs[(i + k) % xs.length]!);
const clientScript = (ctx: BenchContext) => join(ctx.repoRoot, "dist/bench/proxy-pair-client.js");
const track = (ctx: BenchContext) => (kill: () => void) => ctx.onCleanup(kill);

export async function latencyRun(ctx: BenchContext, topo: PairTopology, p: { warmup: number; count: number; maxMs: number }, run: number): Promise<PerTarget<LatencyFig>> {
  const out: Partial<PerTarget<LatencyFig>> = {};
  for (const t of rotate(TARGETS, run)) {
    const maxMs = Math.max(1000, Math.min(p.maxMs, ctx.deadline - Date.now() - 60_000));
    const job: ClientJob = { mode: "latency", url: topo.urls[t], warmup: p.warmup, count: p.count, maxMs, expectBytes: BODY_BYTES };
    const { result } = await runJsonChild<LatencyOutput>({ script: clientScript(ctx), job, timeoutMs: maxMs + 60_000, track: track(ctx) });
    out[t] = { p50Ms: result.p50Ms, p99Ms: result.p99Ms, meanMs: result.meanMs, done: result.done, failed: result.failed, firstError: result.firstError, connections: result.connections, truncated: result.truncated };
  }
  return out as PerTarget<LatencyFig>;
}

interface Sampled {
  rss: () => Rss;
  cpu: () => number;
}

function proxiesOf(topo: PairTopology, t: TargetName): [Sampled, Sampled] | undefined {
  if (t === "ours") {
    const s = (p: PairTopology["sidecarA"]): Sampled => ({ rss: () => rss(p.pid), cpu: () => p.cpuSeconds() });
    return [s(topo.sidecarA), s(topo.sidecarB)];
  }
  if (t === "nginx") {
    const s = (n: PairTopology["nginxA"]): Sampled => ({ rss: () => n.rss(), cpu: () => n.cpuSeconds() });
    return [s(topo.nginxA), s(topo.nginxB)];
  }
  return undefined;
}

/** Samples RSS every 200 ms from start() until stop(); CPU from start() to stop(). */
function window(topo: PairTopology, t: TargetName) {
  const proxies = proxiesOf(topo, t);
  const mem: MemFig[] = [0, 1].map(() => ({ endBytes: Number.NaN, endAnonBytes: Number.NaN, endPssBytes: Number.NaN, peakBytes: Number.NaN }));
  let timer: NodeJS.Timeout | undefined;
  let cpu0: number[] = [];
  let t0 = 0;
  const sample = (): void => {
    proxies?.forEach((p, i) => {
      const r = p.rss();
      if (!Number.isFinite(r.total)) return;
      const m = mem[i]!;
      m.endBytes = r.total;
      m.endAnonBytes = r.anon;
      m.endPssBytes = r.pss;
      m.peakBytes = Number.isFinite(m.peakBytes) ? Math.max(m.peakBytes, r.total) : r.total;
    });
  };
  const cpuNow = (): number[] => [...(proxies?.map((p) => p.cpu()) ?? [Number.NaN, Number.NaN]), processCpuSeconds(topo.app.pid)];
  return {
    start(): void {
      if (timer) return;
      t0 = performance.now();
      cpu0 = cpuNow();
      timer = setInterval(sample, 200);
    },
    stop(): { cores: number[]; mem: MemFig[] } {
      if (timer) clearInterval(timer);
      timer = undefined;
      const secs = (performance.now() - t0) / 1000;
      const cores = cpuNow().map((c, i) => (c - cpu0[i]!) / secs);
      return { cores, mem };
    },
  };
}

async function loadOnce(ctx: BenchContext, topo: PairTopology, t: TargetName, gen: LoadGenerator, p: { connections: number; durationS: number; warmupS: number }): Promise<LoadFig> {
  const w = window(topo, t);
  if (gen.kind === "wrk") {
    w.start();
    const r = await runWrk(gen.bin, { url: topo.urls[t], connections: p.connections, threads: gen.threads, durationS: p.durationS }, track(ctx));
    const { cores, mem } = w.stop();
    return { reqPerSec: r.reqPerSec, requests: r.requests, errors: r.socketErrors + r.non2xx, p50Ms: r.p50Ms, p99Ms: r.p99Ms, coresA: cores[0]!, coresB: cores[1]!, appCores: cores[2]!, clientCores: r.cpuSeconds / r.seconds, memA: mem[0]!, memB: mem[1]! };
  }
  const job: ClientJob = { mode: "throughput", url: topo.urls[t], connections: p.connections, warmupMs: p.warmupS * 1000, durationMs: p.durationS * 1000, expectBytes: BODY_BYTES };
  let ended: { cores: number[]; mem: MemFig[] } | undefined;
  const { result, cpuSeconds, wallMs } = await runJsonChild<ThroughputOutput>({
    script: clientScript(ctx),
    job,
    timeoutMs: (p.warmupS + p.durationS) * 1000 + 60_000,
    track: track(ctx),
    onEvent: (e) => {
      if (e === "measuring") {
        w.start();
        // the child stops by its own clock: close the window when it should have
        setTimeout(() => (ended = w.stop()), p.durationS * 1000).unref();
      }
    },
  });
  const { cores, mem } = ended ?? w.stop();
  return { reqPerSec: result.reqPerSec, requests: result.done, errors: result.failed, p50Ms: result.p50Ms, p99Ms: result.p99Ms, coresA: cores[0]!, coresB: cores[1]!, appCores: cores[2]!, clientCores: cpuSeconds / (wallMs / 1000), memA: mem[0]!, memB: mem[1]! };
}

/** One warm-up pass (wrk has none of its own) so that JIT, pools and nginx's upstream connections are in place. */
export async function loadWarmup(ctx: BenchContext, topo: PairTopology, gen: LoadGenerator, p: { connections: number; warmupS: number }): Promise<void> {
  if (gen.kind !== "wrk" || p.warmupS <= 0) return;
  for (const t of TARGETS) await runWrk(gen.bin, { url: topo.urls[t], connections: p.connections, threads: gen.threads, durationS: p.warmupS }, track(ctx));
}

export async function loadRun(ctx: BenchContext, topo: PairTopology, gen: LoadGenerator, p: { connections: number; durationS: number; warmupS: number }, run: number): Promise<PerTarget<LoadFig>> {
  const out: Partial<PerTarget<LoadFig>> = {};
  for (const t of rotate(TARGETS, run)) out[t] = await loadOnce(ctx, topo, t, gen, p);
  return out as PerTarget<LoadFig>;
}
