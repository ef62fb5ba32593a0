/**
 * waf-speed under load: four targets in front of one app, each request kind
 * driven by wrk (1 thread, keep-alive, the same connection count for all):
 * (a) the app directly, (b) `mesh proxy` with the waf filter in mode off,
 * (c) `mesh proxy` with the waf filter blocking at paranoia 1, (d) nginx +
 * ModSecurity + CRS at paranoia 1, blocking. The target under load has the
 * last CPU to itself; the app and wrk share the others. Before timing every
 * target answers each request with 200, and the WAFs refuse an obvious
 * attack with 403. Each kind has its own path, and the app's counters per
 * path show it saw every request wrk completed, each with its whole body.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { SdsIdentities } from "./lib/identities.js";
import { freePort } from "./lib/mesh-proxy.js";
import { startModsecNginx, type ModSecInstall } from "./lib/modsecurity.js";
import type { NginxProcess } from "./lib/nginx.js";
import { pinProcess, processCpuSeconds, splitCpus } from "./lib/process.js";
import type { BenchContext } from "./lib/types.js";
import { runWrk } from "./lib/wrk.js";
import { replayOne } from "./waf-corpus-replay.js";
import { startWafApp, startWafProxy, type RulesSnapshot, type WafApp, type WafProxy } from "./waf-corpus-setup.js";
import { ATTACK_PATH, KINDS, rawRequest, requestSpec, wrkHeaders, wrkScript, type Kind } from "./waf-speed-requests.js";

export type Target = "direct" | "waf-off" | "waf-on" | "modsec";
export const TARGETS: readonly Target[] = ["direct", "waf-off", "waf-on", "modsec"];
export const TARGET_LABEL: Record<Target, string> = {
  direct: "app directly",
  "waf-off": "mesh proxy, WAF off",
  "waf-on": "mesh proxy, WAF on (PL1, block)",
  modsec: "nginx + ModSecurity + CRS (PL1, block)",
};

export interface LoadPlan {
  runs: number;
  connections: number;
  /** Shortest slice, s… */
  sliceS: number;
  /** …made longer for a slow target, so that each connection completes at least `minCycles` requests in it (at most maxSliceS). */
  minCycles: number;
  maxSliceS: number;
  warmupS: number;
}

export interface Slice {
  reqPerSec: number;
  requests: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
  /** Socket errors but timeouts, and non-2xx responses. */
  errors: number;
  /** Requests wrk gave up on after its timeout. */
  timeouts: number;
  /** CPU the target used per request, µs (NaN for the app directly: it shares its CPU with wrk). */
  targetUsPerReq: number;
  /** Cores the target used during the slice. */
  targetCores: number;
}

export type LoadRun = Record<Target, Record<Kind, Slice>>;

export interface SpeedTopology {
  app: WafApp;
  ports: Record<Target, number>;
  proxies: { off: WafProxy; on: WafProxy };
  nginx: NginxProcess;
  nginxPrefix: string;
  clientCpus?: string;
  placement: string;
}

function targetCpu(t: SpeedTopology, target: Target): number {
  switch (target) {
    case "direct":
      return processCpuSeconds(t.app.peer.pid);
    case "waf-off":
      return processCpuSeconds(t.proxies.off.peer.pid);
    case "waf-on":
      return processCpuSeconds(t.proxies.on.peer.pid);
    case "modsec":
      return t.nginx.cpuSeconds();
  }
}

export async function startSpeedTopology(ctx: BenchContext, snap: RulesSnapshot, install: ModSecInstall, nginxWorkers: number): Promise<SpeedTopology> {
  const split = splitCpus();
  const targetCpus = split?.target;
  const clientCpus = split?.clients;
  const placement = split
    ? `the target under load (proxy or nginx master + worker) pinned to CPU ${targetCpus}; the app and wrk to CPU ${clientCpus} (taskset), so "app directly" shares its CPU with wrk`
    : "nothing pinned (taskset missing or a single CPU): targets, app and wrk share the CPUs";
  const app = await startWafApp(ctx, clientCpus);
  const ids = new SdsIdentities(ctx, ctx.tempDir("waf-speed-ids-"));
  ctx.log("starting mesh proxy, WAF off");
  const off = await startWafProxy(ctx, ids, { name: "waf-speed-off", appPort: app.port, waf: { mode: "off", rules: snap.dir }, cpuList: targetCpus });
  ctx.log("starting mesh proxy, WAF on");
  const on = await startWafProxy(ctx, ids, { name: "waf-speed-on", appPort: app.port, waf: { mode: "block", paranoia: 1, rules: snap.dir }, cpuList: targetCpus });
  ctx.log("starting nginx + ModSecurity + CRS");
  const nginxPrefix = ctx.tempDir("waf-speed-modsec-");
  const nginxPort = await freePort();
  const nginx = await startModsecNginx(install, { prefix: nginxPrefix, workers: nginxWorkers, listenPort: nginxPort, appPort: app.port, paranoia: 1, threshold: 5 });
  ctx.onCleanup(() => nginx.stop());
  if (targetCpus) for (const pid of [nginx.pid, ...nginx.workers()]) pinProcess(pid, targetCpus); // a refusal: the placement line says what was intended
  return {
    app,
    ports: { direct: app.port, "waf-off": off.port, "waf-on": on.port, modsec: nginxPort },
    proxies: { off, on },
    nginx,
    nginxPrefix,
    ...(clientCpus ? { clientCpus } : {}),
    placement,
  };
}

/** Every target answers every kind with 200 (the app saw its body); the WAFs refuse the attack, the others pass it. Returns what was checked. */
export async function verifyTargets(t: SpeedTopology): Promise<string[]> {
  const problems: string[] = [];
  for (const target of TARGETS) {
    for (const kind of KINDS) {
      const before = await t.app.counts();
      const o = await replayOne(rawRequest(kind), "127.0.0.1", t.ports[target], 10_000);
      const after = await t.app.counts();
      const body = requestSpec(kind).body?.length ?? 0;
      if (o.kind !== "status" || o.status !== 200) problems.push(`${target} ${kind}: ${JSON.stringify(o)}, expected 200`);
      else if (after.requests - before.requests !== 1 || after.bodyBytes - before.bodyBytes !== body) problems.push(`${target} ${kind}: the app saw ${after.requests - before.requests} requests and ${after.bodyBytes - before.bodyBytes} body bytes, expected 1 and ${body}`);
    }
    const attack = await replayOne(rawRequest("query", ATTACK_PATH), "127.0.0.1", t.ports[target], 10_000);
    const want = target === "waf-on" || target === "modsec" ? 403 : 200;
    if (attack.kind !== "status" || attack.status !== want) problems.push(`${target}: the attack ${ATTACK_PATH} got ${JSON.stringify(attack)}, expected ${want}`);
  }
  if (problems.length > 0) throw new Error(`targets failed their checks before timing: ${problems.join("; ")}`);
  return [
    "before timing, each target answered each of the four requests with 200 and the app received it with its whole body",
    `\`GET ${ATTACK_PATH}\` was refused with 403 by the proxy with the WAF on and by nginx + ModSecurity (so both really inspect), and passed with 200 by the proxy with the WAF off and by the app`,
  ];
}

export class SpeedLoad {
  private readonly scripts = new Map<Kind, string>();
  private readonly problems: string[] = [];
  private readonly completed: Record<Kind, number> = { get: 0, query: 0, form: 0, json: 0 };
  private readonly warmRate = new Map<string, number>();

  constructor(
    private readonly ctx: BenchContext,
    private readonly topo: SpeedTopology,
    private readonly wrkBin: string,
    private readonly plan: LoadPlan,
  ) {
    const dir = ctx.tempDir("waf-speed-lua-");
    for (const k of KINDS) {
      const lua = wrkScript(k);
      if (lua === undefined) continue;
      const file = join(dir, `${k}.lua`);
      writeFileSync(file, lua);
      this.scripts.set(k, file);
    }
  }

  /** One pass over every target and kind; its rates size the slices of the slow ones. */
  async warmup(): Promise<void> {
    for (const target of TARGETS) {
      for (const k of KINDS) {
        let s = await this.slice(target, k, this.plan.warmupS, false);
        // so slow that nothing came back: once more, long enough to see a rate
        if (s.requests < this.plan.connections) s = await this.slice(target, k, this.plan.maxSliceS, false);
        this.warmRate.set(`${target}|${k}`, s.reqPerSec);
      }
    }
  }

  /** Seconds of a timed slice: sliceS, or longer for a target whose warm-up rate would not let each connection go round minCycles times. */
  sliceSeconds(target: Target, kind: Kind): number {
    const rate = this.warmRate.get(`${target}|${kind}`) ?? 0;
    const need = rate > 0 ? Math.ceil((this.plan.minCycles * this.plan.connections) / rate) : this.plan.maxSliceS;
    return Math.min(this.plan.maxSliceS, Math.max(this.plan.sliceS, need));
  }

  /** One run: each kind on every target, the order of the targets rotating from run to run. */
  async run(run: number): Promise<LoadRun> {
    const out = Object.fromEntries(TARGETS.map((t) => [t, {}])) as LoadRun;
    for (const [ki, kind] of KINDS.entries()) {
      for (let i = 0; i < TARGETS.length; i++) {
        const target = TARGETS[(i + run + ki) % TARGETS.length]!;
        out[target][kind] = await this.slice(target, kind, this.sliceSeconds(target, kind), true);
      }
    }
    return out;
  }

  /**
   * Errors under load (timed slices), and the app's counters against what
   * wrk completed: each kind has its own path, so the app must have seen at
   * least as many requests on it as wrk completed there (over every target,
   * warm-up included), each with exactly one whole body.
   */
  async checkProblems(): Promise<string[]> {
    const problems = [...this.problems];
    const counts = await this.topo.app.counts();
    for (const k of KINDS) {
      const spec = requestSpec(k);
      const c = counts.paths[spec.path.split("?")[0]!] ?? { requests: 0, bodyBytes: 0 };
      const body = spec.body?.length ?? 0;
      if (c.requests < this.completed[k]) problems.push(`${k}: wrk completed ${this.completed[k]} requests, the app saw ${c.requests}`);
      if (c.bodyBytes !== c.requests * body) problems.push(`${k}: the app got ${c.bodyBytes} body bytes for ${c.requests} requests of ${body}`);
    }
    return problems;
  }

  /** Requests wrk completed per kind, warm-up included. */
  completedCounts(): Record<Kind, number> {
    return { ...this.completed };
  }

  private async slice(target: Target, kind: Kind, durationS: number, check: boolean): Promise<Slice> {
    const spec = requestSpec(kind);
    const script = this.scripts.get(kind);
    const c0 = targetCpu(this.topo, target);
    const t0 = performance.now();
    const w = await runWrk(
      this.wrkBin,
      {
        url: `http://127.0.0.1:${this.topo.ports[target]}${spec.path}`,
        connections: this.plan.connections,
        threads: 1,
        durationS,
        headers: wrkHeaders(),
        ...(script ? { script: { file: script, args: [] } } : {}),
        ...(this.topo.clientCpus ? { cpus: this.topo.clientCpus } : {}),
      },
      (kill) => this.ctx.onCleanup(kill),
    );
    const secs = (performance.now() - t0) / 1000;
    const cpu = targetCpu(this.topo, target) - c0;
    // a request still unanswered after wrk's timeout (10 s) is not a failure of the target, only very slow: counted apart
    const timeouts = Number(/Socket errors:.*timeout (\d+)/.exec(w.stdout)?.[1] ?? 0);
    const errors = w.socketErrors - timeouts + w.non2xx;
    this.completed[kind] += w.requests;
    if (check && errors > 0) this.problems.push(`${target} ${kind}: ${w.socketErrors - timeouts} socket errors and ${w.non2xx} non-2xx responses under load`);
    return {
      reqPerSec: w.reqPerSec,
      requests: w.requests,
      seconds: durationS,
      p50Ms: w.p50Ms,
      p99Ms: w.p99Ms,
      errors,
      timeouts,
      targetUsPerReq: target === "direct" || w.requests === 0 ? Number.NaN : (cpu * 1e6) / w.requests,
      targetCores: cpu / secs,
    };
  }
}
