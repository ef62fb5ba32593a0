/**
 * mass-rotation: 10,000 workload identities on one node, through a real
 * agent (in this process, clock = real time + an offset) and a real CA
 * (`mesh ca serve` in a child process). Measures (a) the first issuance of
 * all of them and (b) renewal waves: the clock jumps past every renewal
 * time and we time until every workload is served a new certificate over
 * SDS. Baseline in the same run: the CA's raw signing rate through the same
 * HTTPS API. Goal: a whole wave in under 30 s.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { AgentUnderTest, type AgentVariant, type Phase } from "./mass-rotation-agent.js";
import { issuedBetween, SIGN_RATE, SignLoad, startRotationCa, timeEntriesFetch, workloadName } from "./mass-rotation-setup.js";
import { perSecond } from "./lib/loop.js";
import { allowedCpus, pinSelf } from "./lib/process.js";
import { SdsFleet } from "./lib/sds-fleet.js";
import { fmt, median } from "./lib/stats.js";
import { meets, type Benchmark, type BenchContext, type Goal, type Row, type Section } from "./lib/types.js";
import { rotationMarkdown, type VariantResult, type WaveRec } from "./mass-rotation-report.js";

const GOAL: Goal = { op: "<=", value: 30_000, unit: "ms" };

interface Variant extends AgentVariant {
  waves: number;
}

function plan(quick: boolean) {
  // the agent as `mesh agent` runs it by default; more configurations can be added here, each with its own agent
  const variants: Variant[] = [{ label: "defaults (max_concurrent_signs 32)", waves: quick ? 2 : 5 }];
  return quick
    ? { n: 500, sample: 50, variants, baseline: { count: 300, warmup: 100 }, phaseTimeoutMs: 120_000 }
    : { n: 10_000, sample: 200, variants, baseline: { count: 2000, warmup: 300 }, phaseTimeoutMs: 240_000 };
}

/** Soft RLIMIT_NOFILE of this process (Linux), or undefined. */
function openFileLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "utf8"));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

const FD_MARGIN = 1000;

export const massRotation: Benchmark = {
  name: "mass-rotation",
  description: "10,000 workload identities on one node renewed through a real agent and CA: time for the whole wave",
  budgetMs: 30 * 60_000,
  async unavailable(ctx) {
    const need = plan(ctx.quick).n + FD_MARGIN;
    const limit = openFileLimit();
    return limit !== undefined && limit < need ? `needs ulimit -n ≥ ${need} (one Unix socket per workload), have ${limit}` : undefined;
  },
  async run(ctx: BenchContext): Promise<Section> {
    const p = plan(ctx.quick);
    const cpus = allowedCpus();
    const split = cpus !== undefined && cpus.length >= 2;
    const caCpu = split ? String(cpus[cpus.length - 1]) : undefined;
    const nodeCpu = split ? String(cpus[0]) : undefined;
    const dir = ctx.tempDir("mass-rotation-");
    ctx.log(`creating a CA with ${fmt(p.n)} registration entries for one node, then \`mesh ca serve\``);
    const ca = await startRotationCa(ctx, dir, p.n, p.variants.length, caCpu);
    const restore = nodeCpu !== undefined ? pinSelf(nodeCpu) : undefined;
    const unpin = restore ?? (() => undefined);
    ctx.onCleanup(unpin);
    const placement = split && restore ? `${ca.placement}; the agent (this process) and the SDS sample clients on CPU ${nodeCpu}` : "not pinned (taskset missing or refused, or one CPU)";
    const caCpuS = () => ca.server.cpuSeconds();

    const load = await SignLoad.attest(ctx, ca, ca.loadToken, p.baseline.count, 8);
    const warm = await load.run(p.baseline.warmup, 30_000);
    if (warm.failed > 0) throw new Error(`baseline warm-up: ${warm.failed} failed signings, first: ${warm.firstError}`);

    const results: VariantResult[] = [];
    let entriesFetch: Awaited<ReturnType<typeof timeEntriesFetch>> | undefined;
    try {
      for (const [k, v] of p.variants.entries()) {
        const a = AgentUnderTest.create(join(dir, `agent-${k}`), ca, ca.tokenFiles[k]!, v, p.n);
        ctx.onCleanup(() => a.stop());
        ctx.log(`${v.label}: starting the agent (attest, sync, ${fmt(p.n)} SDS sockets, first issuance of every identity)`);
        const initial = await a.initial(Math.min(p.phaseTimeoutMs, ctx.deadline - Date.now() - 60_000), caCpuS);
        if (initial.done < p.n) throw new Error(`${v.label}: only ${initial.done} of ${p.n} identities issued within the time limit (${initial.failures} failures)`);
        ctx.log(`${v.label}: initial issuance of ${fmt(p.n)} in ${fmt(initial.ms / 1000, 1)} s (agent start incl. sockets ${fmt(initial.startMs / 1000, 1)} s)`);
        entriesFetch ??= await timeEntriesFetch(ca, a.nodeSvid().certPem, a.nodeSvid().keyPem, 3);

        // SDS clients on a sample of the sockets, one per socket, in a child process on the node's CPU
        const step = Math.max(1, Math.floor(p.n / p.sample));
        const sample = Array.from({ length: Math.min(p.sample, p.n) }, (_, j) => j * step);
        const { fleet } = await SdsFleet.start(ctx, { sds: sample.map((i) => ({ path: a.sds.socketPath(workloadName(i)), clients: 1 })), raw: [] }, { cpuList: nodeCpu, timeoutMs: 60_000 });

        const waves: WaveRec[] = [];
        let cut: string | undefined;
        for (let w = 0; w < v.waves; w++) {
          const left = ctx.deadline - Date.now() - 60_000;
          if (left < 30_000) {
            cut = "the time budget";
            break;
          }
          if (a.headroomMs() < 10 * 60_000) {
            cut = "the certificates' lifetime on the shifted clock";
            break;
          }
          const base = await load.run(p.baseline.count, 60_000);
          if (base.failed > 0) throw new Error(`baseline: ${base.failed} failed signings, first: ${base.firstError}`);
          await sleep(300);
          const timeout = Math.min(p.phaseTimeoutMs, left);
          const armed = await fleet.arm({ kind: "newLeaf" }, timeout);
          const ph: Phase = await a.wave(timeout, caCpuS);
          const got = await armed.result;
          const sampleMs = got.complete ? Math.max(...got.atUs.map((t) => (t - ph.t0Us) / 1000)) : Number.POSITIVE_INFINITY;
          const stale = sample.filter((i, j) => got.serials[j] !== a.servedSerial(i)).length;
          if (stale > 0) throw new Error(`${v.label} wave ${w + 1}: ${stale} sampled sockets do not serve the agent's current certificate`);
          const signed = issuedBetween(ca.caDir, ph.wallFrom, ph.wallTo);
          const rec: WaveRec = { phase: ph, sampleMs, totalMs: Math.max(ph.ms, sampleMs), baselinePerSec: perSecond(base), baselineTruncated: base.truncated, signed };
          waves.push(rec);
          ctx.log(
            `${v.label} wave ${w + 1}/${v.waves}: ${fmt(ph.done)} renewed in ${fmt(rec.totalMs / 1000, 2)} s (${fmt((p.n * 1000) / rec.totalMs)}/s; sample of ${sample.length} sockets all served the new cert by ${fmt(sampleMs / 1000, 2)} s)` +
              ` · raw API ${fmt(rec.baselinePerSec)}/s · CA ${fmt(ph.caCpuS / (rec.totalMs / 1000), 2)} cores, agent ${fmt(ph.agentCpuS / (rec.totalMs / 1000), 2)} cores`,
          );
          if (ph.done < p.n) throw new Error(`${v.label} wave ${w + 1}: only ${ph.done} of ${p.n} renewed within ${fmt(timeout / 1000)} s (${ph.failures} failures)`);
        }
        const fleetStats = await fleet.stats();
        await fleet.stop();
        const withdrawn = a.sds.withdrawn;
        const maxInFlight = a.cfg.max_concurrent_signs;
        await a.stop();
        if (fleetStats.validateFailures > 0 || fleetStats.nacks > 0) throw new Error(`${v.label}: sample clients rejected ${fleetStats.validateFailures} pushes`);
        if (withdrawn > 0) throw new Error(`${v.label}: ${withdrawn} identities were withdrawn as expired (the shifted clock overtook them)`);
        results.push({ label: v.label, maxInFlight, initial, waves, cut, sample: sample.length, sampleDisconnects: fleetStats.disconnects, agentCores: split && restore ? 1 : ctx.machine.cores });
      }
    } finally {
      unpin();
      load.close();
    }

    const rows: Row[] = [];
    const goalRows: string[][] = [];
    for (const r of results) {
      const wave = median(r.waves.map((x) => x.totalMs));
      const st = meets(GOAL, wave) ? "PASS" : "FAIL";
      rows.push({ metric: `${r.label}: wave of ${fmt(p.n)}, s (median)`, value: fmt(wave / 1000, 2), goal: "≤ 30 s", status: st });
      rows.push({ metric: "  identities/s ÷ raw API signings/s (same run)", value: fmt(median(r.waves.map((x) => (p.n * 1000) / x.totalMs / x.baselinePerSec)), 3), status: "info" });
      rows.push({ metric: "  first issuance of all, s", value: fmt(r.initial.ms / 1000, 2), status: "info" });
      goalRows.push([`every identity renewed and served, ${r.label}`, "≤ 30 s", `${fmt(wave / 1000, 2)} s`, `**${st}**`]);
    }
    const markdown = rotationMarkdown({ n: p.n, goalRows, results, placement, entriesMs: ca.entriesMs, signRate: SIGN_RATE, entriesFetch, baselineCount: p.baseline.count });
    return { markdown, rows };
  },
};
