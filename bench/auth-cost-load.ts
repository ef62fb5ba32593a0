/**
 * auth-cost load runs: requests/s through the proxy on each protected route
 * and on the unprotected one, in the same run, the order rotating from run
 * to run, with the proxy's CPU per request. JWT, Basic and API-key requests
 * repeat one credential (warm caches: what a client with a session sends).
 * HMAC requests each need a new signature (a repeat is refused as a replay),
 * so with wrk they come from a list signed just before the run and fed by a
 * Lua `request()`; that costs wrk more per request than a static request, so
 * HMAC is compared with the same list shape sent to the unprotected route
 * ("open, signed list"). Each protected route is measured right next to its
 * baseline. Without wrk, an undici client in its own process
 * does the same (signing as it goes).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { LoadJob, LoadOutput } from "./auth-cost-client.js";
import type { AuthTopology } from "./auth-cost-proxy.js";
import { APP_BODY_BYTES, signHmac, type Credentials, type RouteName } from "./auth-cost-setup.js";
import { runJsonChild } from "./lib/json-child.js";
import { startLoadWindow } from "./lib/load.js";
import { processCpuSeconds } from "./lib/process.js";
import type { BenchContext } from "./lib/types.js";
import { runWrk as runWrkOnce } from "./lib/wrk.js";

export type LoadTarget = "open" | "jwt-es" | "jwt-rs" | "basic" | "key" | "open-signed" | "hmac";
export const LOAD_TARGETS: readonly LoadTarget[] = ["open", "jwt-es", "jwt-rs", "basic", "key", "open-signed", "hmac"];
export type ProtectedTarget = "jwt-es" | "jwt-rs" | "basic" | "key" | "hmac";
export const PROTECTED: readonly ProtectedTarget[] = ["jwt-es", "jwt-rs", "basic", "key", "hmac"];
/** What each protected target is compared with. */
export const BASELINE_OF: Record<ProtectedTarget, LoadTarget> = { "jwt-es": "open", "jwt-rs": "open", basic: "open", key: "open", hmac: "open-signed" };
export const ROUTE_OF: Record<LoadTarget, RouteName> = { open: "open", "jwt-es": "jwt-es", "jwt-rs": "jwt-rs", basic: "basic", key: "key", "open-signed": "open", hmac: "hmac" };
const SIGNED: ReadonlySet<LoadTarget> = new Set(["open-signed", "hmac"]);

export type LoadGen = { kind: "wrk"; bin: string } | { kind: "undici" };

export interface LoadPlan {
  runs: number;
  connections: number;
  /** Length of one load slice; each side of a pair gets two (base, route, route, base or the reverse). */
  sliceS: number;
  warmupS: number;
  /** A pair during which other processes used more than this many cores is measured again… */
  quietCores: number;
  /** …at most this many times in all; the quietest attempt is kept. */
  maxAttempts: number;
}

/** One load generator run: raw totals, merged into a LoadFig per side of a pair. */
interface Slice {
  requests: number;
  /** Seconds the load generator measured over. */
  seconds: number;
  /** Seconds of the CPU window (proxy, app, client CPU). */
  windowS: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  proxyCpuS: number;
  appCpuS: number;
  clientCpuS: number;
}

export interface LoadFig {
  reqPerSec: number;
  requests: number;
  /** Socket errors, non-2xx responses, failed requests. */
  errors: number;
  p50Ms: number;
  p99Ms: number;
  proxyCores: number;
  /** Proxy CPU (user + system) per completed request, µs. */
  proxyUsPerReq: number;
  appCores: number;
  clientCores: number;
}

/** Several slices of one target as one figure: rates over the summed time, latencies averaged over the slices. */
function merge(slices: readonly Slice[]): LoadFig {
  const sum = (f: (x: Slice) => number) => slices.reduce((a, x) => a + f(x), 0);
  const requests = sum((x) => x.requests);
  const windowS = sum((x) => x.windowS);
  return {
    reqPerSec: requests / sum((x) => x.seconds),
    requests,
    errors: sum((x) => x.errors),
    p50Ms: sum((x) => x.p50Ms) / slices.length,
    p99Ms: sum((x) => x.p99Ms) / slices.length,
    proxyCores: sum((x) => x.proxyCpuS) / windowS,
    proxyUsPerReq: (sum((x) => x.proxyCpuS) * 1e6) / requests,
    appCores: sum((x) => x.appCpuS) / windowS,
    clientCores: sum((x) => x.clientCpuS) / windowS,
  };
}

/** A protected route and its baseline, measured back to back. */
export interface LoadPair {
  base: LoadFig;
  subject: LoadFig;
  /** Cores other processes used during the pair (not this process, its load generator, the proxy or the app); NaN when unknown. */
  otherCores: number;
  /** Attempts it took (a busy machine makes the pair run again). */
  attempts: number;
}

/** One run: every protected route paired with its baseline. */
export type LoadRun = Record<ProtectedTarget, LoadPair>;

/**
 * wrk script: request() hands out the next line of a list made just before
 * the run; done() prints how many were used, since a list that ran out
 * wraps around to replays the proxy refuses (the run is then void).
 */
const LUA = `-- auth-cost: one pre-signed request per call, from a list written just before the run
local reqs = {}
listed = 0
used = 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local host = args[2]
  for line in io.lines(args[1]) do
    local path, date, auth = line:match("^([^\\t]*)\\t([^\\t]*)\\t(.*)$")
    listed = listed + 1
    reqs[listed] = "GET " .. path .. " HTTP/1.1\\r\\nHost: " .. host .. "\\r\\nDate: " .. date .. "\\r\\nAuthorization: " .. auth .. "\\r\\n\\r\\n"
  end
end

function request()
  used = used + 1
  return reqs[((used - 1) % listed) + 1]
end

function done(summary, latency, requests)
  local u, l = 0, 0
  for _, t in ipairs(threads) do
    u = u + t:get("used")
    l = l + t:get("listed")
  end
  io.write("auth-cost-list: used " .. u .. " of " .. l .. "\\n")
end
`;

interface WrkJob {
  url: string;
  connections: number;
  durationS: number;
  headers: Record<string, string>;
  /** Lua script and the arguments after the URL. */
  script?: { file: string; args: string[] };
}

interface WrkOut {
  reqPerSec: number;
  requests: number;
  seconds: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  cpuSeconds: number;
  list?: { used: number; listed: number };
}

async function runWrk(bin: string, job: WrkJob, cpus: string | undefined, track: (kill: () => void) => void): Promise<WrkOut> {
  const w = await runWrkOnce(bin, { url: job.url, connections: job.connections, threads: 1, durationS: job.durationS, headers: job.headers, script: job.script, cpus }, track);
  const m = /auth-cost-list: used (\d+) of (\d+)/.exec(w.stdout);
  return {
    reqPerSec: w.reqPerSec,
    requests: w.requests,
    seconds: w.seconds,
    errors: w.socketErrors + w.non2xx,
    p50Ms: w.p50Ms,
    p99Ms: w.p99Ms,
    cpuSeconds: w.cpuSeconds,
    ...(m ? { list: { used: Number(m[1]), listed: Number(m[2]) } } : {}),
  };
}

export class LoadDriver {
  private readonly lua: string;
  private readonly dir: string;
  /** Highest req/s seen so far: sizes the next signed list. */
  private maxRps = 0;
  /** Signed requests sent per target: the app must have seen at least these. */
  readonly sent: Record<string, number> = {};

  constructor(
    private readonly ctx: BenchContext,
    private readonly topo: AuthTopology,
    private readonly c: Credentials,
    readonly gen: LoadGen,
    private readonly plan: LoadPlan,
  ) {
    this.dir = ctx.tempDir("auth-cost-load-");
    this.lua = join(this.dir, "signed-list.lua");
    writeFileSync(this.lua, LUA);
  }

  /** One pass over every target (wrk has no warm-up of its own; the undici client warms up per slice). */
  async warmup(): Promise<void> {
    if (this.gen.kind !== "wrk" || this.plan.warmupS <= 0) return;
    for (const t of LOAD_TARGETS) await this.once(t, this.plan.warmupS);
  }

  /**
   * Each protected route interleaved with its baseline in four slices,
   * A B B A, so that a drift in the machine's load during the pair weighs on
   * both sides alike; the order of the routes rotates from run to run, and
   * which side opens a pair alternates. A pair during which other processes
   * were busy is measured again (bounded), keeping the quietest attempt.
   */
  async run(run: number): Promise<LoadRun> {
    const out: Partial<LoadRun> = {};
    for (let i = 0; i < PROTECTED.length; i++) {
      const t = PROTECTED[(i + run) % PROTECTED.length]!;
      const baseFirst = (i + run) % 2 === 0;
      let best: LoadPair | undefined;
      let made = 0;
      for (let attempt = 1; attempt <= this.plan.maxAttempts; attempt++) {
        made = attempt;
        const pair = await this.pair(t, baseFirst);
        if (!best || !(pair.otherCores >= best.otherCores)) best = pair;
        if (!(pair.otherCores > this.plan.quietCores) || Date.now() > this.ctx.deadline - 3 * 60_000) break;
        this.ctx.log(`${t}: other processes used ${pair.otherCores.toFixed(2)} cores during the pair; measuring it again`);
      }
      out[t] = { ...best!, attempts: made };
    }
    return out as LoadRun;
  }

  /** One A B B A pair, with the CPU other processes used meanwhile (the machine's busy time minus ours, the proxy's and the app's). */
  private async pair(t: ProtectedTarget, baseFirst: boolean): Promise<LoadPair> {
    const b = BASELINE_OF[t];
    const order = baseFirst ? [b, t, t, b] : [t, b, b, t];
    const slices: Record<"base" | "subject", Slice[]> = { base: [], subject: [] };
    const window = startLoadWindow();
    const t0 = performance.now();
    for (const x of order) slices[x === t ? "subject" : "base"].push(await this.once(x, this.plan.sliceS));
    const busy = window.stop();
    const secs = (performance.now() - t0) / 1000;
    const live = [...slices.base, ...slices.subject].reduce((a, x) => a + x.proxyCpuS + x.appCpuS, 0);
    const otherCores = busy === undefined ? Number.NaN : Math.max(0, busy - live / secs);
    return { base: merge(slices.base), subject: merge(slices.subject), otherCores, attempts: 1 };
  }

  /** A list of signed requests for a wrk run, generously sized from the fastest run so far. */
  private writeList(route: RouteName, durationS: number): { file: string; count: number } {
    const count = Math.min(600_000, Math.ceil(Math.max(this.maxRps, 5000) * (durationS + 1) * 1.6) + 2000);
    const lines: string[] = new Array<string>(count);
    const now = Date.now();
    for (let i = 0; i < count; i++) {
      const s = signHmac(this.c, route, now);
      lines[i] = `${s.url}\t${s.date}\t${s.authorization}`;
    }
    const file = join(this.dir, `list-${route}.tsv`);
    writeFileSync(file, lines.join("\n") + "\n");
    return { file, count };
  }

  private async once(t: LoadTarget, durationS: number): Promise<Slice> {
    const route = ROUTE_OF[t];
    const headers = SIGNED.has(t) ? {} : this.topo.headers(route);
    if (!headers) throw new Error(`no fixed credential for route ${route}`);
    const track = (kill: () => void) => this.ctx.onCleanup(kill);
    const proxyPid = this.topo.proxy.pid;
    const appPid = this.topo.app.pid;
    let slice: Slice;
    if (this.gen.kind === "wrk") {
      const list = SIGNED.has(t) ? this.writeList(route, durationS) : undefined;
      const p0 = processCpuSeconds(proxyPid);
      const a0 = processCpuSeconds(appPid);
      const t0 = performance.now();
      const w = await runWrk(
        this.gen.bin,
        { url: `${this.topo.origin}/${route}/hello`, connections: this.plan.connections, durationS, headers, ...(list ? { script: { file: this.lua, args: [list.file, this.topo.host] } } : {}) },
        this.topo.clientCpus,
        track,
      );
      const secs = (performance.now() - t0) / 1000;
      const proxyCpu = processCpuSeconds(proxyPid) - p0;
      if (list && (!w.list || w.list.used > w.list.listed)) {
        throw new Error(`${t}: the signed-request list ran out (${w.list ? `${w.list.used} requests made from ${w.list.listed}` : "no count from wrk"}); replays would be refused`);
      }
      slice = {
        requests: w.requests,
        seconds: w.seconds,
        windowS: secs,
        errors: w.errors,
        p50Ms: w.p50Ms,
        p99Ms: w.p99Ms,
        proxyCpuS: proxyCpu,
        appCpuS: processCpuSeconds(appPid) - a0,
        clientCpuS: w.cpuSeconds,
      };
    } else {
      slice = await this.onceUndici(t, route, headers, durationS, track);
    }
    this.maxRps = Math.max(this.maxRps, slice.requests / slice.seconds);
    this.sent[route] = (this.sent[route] ?? 0) + slice.requests;
    return slice;
  }

  private async onceUndici(t: LoadTarget, route: RouteName, headers: Record<string, string>, durationS: number, track: (kill: () => void) => void): Promise<Slice> {
    const job: LoadJob = {
      origin: this.topo.origin,
      path: `/${route}/hello`,
      headers,
      ...(SIGNED.has(t) ? { sign: { route, secret: this.c.hmacSecret } } : {}),
      connections: this.plan.connections,
      warmupMs: this.plan.warmupS * 1000,
      durationMs: durationS * 1000,
      expectBytes: APP_BODY_BYTES,
    };
    let p0 = Number.NaN;
    let a0 = Number.NaN;
    let t0 = 0;
    let ended: { proxy: number; app: number; secs: number } | undefined;
    const stop = () => ({ proxy: processCpuSeconds(this.topo.proxy.pid) - p0, app: processCpuSeconds(this.topo.app.pid) - a0, secs: (performance.now() - t0) / 1000 });
    const { result, cpuSeconds, wallMs } = await runJsonChild<LoadOutput>({
      script: join(this.ctx.repoRoot, "dist/bench/auth-cost-client.js"),
      job,
      timeoutMs: (this.plan.warmupS + durationS) * 1000 + 60_000,
      track,
      onEvent: (e) => {
        if (e !== "measuring") return;
        p0 = processCpuSeconds(this.topo.proxy.pid);
        a0 = processCpuSeconds(this.topo.app.pid);
        t0 = performance.now();
        // the child stops by its own clock: close the CPU window when it should have
        setTimeout(() => (ended = stop()), durationS * 1000).unref();
      },
    });
    const w = ended ?? stop();
    return {
      requests: result.done,
      seconds: result.elapsedMs / 1000,
      windowS: w.secs,
      errors: result.failed,
      p50Ms: result.p50Ms,
      p99Ms: result.p99Ms,
      proxyCpuS: w.proxy,
      appCpuS: w.app,
      // the child's CPU includes its warm-up: scaled to the measured part
      clientCpuS: (cpuSeconds * w.secs) / (wallMs / 1000),
    };
  }
}
