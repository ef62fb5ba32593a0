/**
 * ca-sign: CSR signings per second with ECDSA P-256, in-process and through
 * the HTTPS API, against raw node:crypto and a trivial endpoint measured in
 * the same run. Goals: ≥ 2,000/s in-process, ≥ 1,000/s over HTTPS on one core.
 */
import { runThroughApi, type ApiResult, type ApiRun } from "./ca-sign-api.js";
import { runInProcess, type InProcessResult } from "./ca-sign-inproc.js";
import { measureParts, type Part } from "./ca-sign-parts.js";
import { makeCsrs } from "./lib/ca-setup.js";
import { fmt, fmtRuns, mdTable, median } from "./lib/stats.js";
import { meets, type Benchmark, type BenchContext, type Goal, type Row, type Section } from "./lib/types.js";

const GOAL_INPROC: Goal = { op: ">=", value: 2000, unit: "signings/s" };
const GOAL_API: Goal = { op: ">=", value: 1000, unit: "signings/s" };

const goalText = (g: Goal) => `${g.op === ">=" ? "≥" : "≤"} ${fmt(g.value)} ${g.unit}`;
const status = (g: Goal, v: number) => (meets(g, v) ? "PASS" : "FAIL");

function plans(quick: boolean) {
  return quick
    ? { pool: 300, parts: { runs: 3, count: 200 }, inproc: { runs: 3, count: 300, rawOps: 1000, warmup: 50, maxMsPerLoop: 10_000 }, api: { runs: 3, count: 300, concurrency: 8, warmup: 50, maxMsPerLoop: 10_000 } }
    : { pool: 3000, parts: { runs: 5, count: 1000 }, inproc: { runs: 5, count: 2000, rawOps: 5000, warmup: 300, maxMsPerLoop: 30_000 }, api: { runs: 5, count: 3000, concurrency: 8, warmup: 500, maxMsPerLoop: 30_000 } };
}

function inprocMarkdown(r: InProcessResult): string {
  const sign = median(r.signPerSec);
  const raw = median(r.rawSignPerSec);
  const ver = median(r.rawVerifyPerSec);
  // one CA signature plus one CSR self-signature check is the least a signing can cost
  const floor = r.rawSignPerSec.map((s, i) => 1 / (1 / s + 1 / r.rawVerifyPerSec[i]!));
  const rows = [
    ["`NodeApi.sign` signings/s", fmt(sign), fmtRuns(r.signPerSec)],
    ["µs per signing", fmt(1e6 / sign), ""],
    ["baseline: raw ECDSA P-256 sign of 300 B with the CA key (node:crypto), ops/s", fmt(raw), fmtRuns(r.rawSignPerSec)],
    ["**signings/s ÷ raw sign/s**", fmt(median(r.ratio), 3), fmtRuns(r.ratio, 3)],
    ["raw ECDSA P-256 verify, ops/s (a CSR's self-signature check)", fmt(ver), fmtRuns(r.rawVerifyPerSec)],
    ["crypto floor: 1 sign + 1 verify per signing, ops/s", fmt(median(floor)), fmtRuns(floor)],
    ["signings/s ÷ crypto floor", fmt(sign / median(floor), 3), ""],
  ];
  return [
    `${r.plan.runs} runs of ${fmt(r.plan.count)} signings (${fmt(r.plan.warmup, 0)} warm-up signings first); each run also times ${fmt(r.plan.rawOps)} raw signs and verifies right before its signings.`,
    "CA: encrypted P-256 key, SQLite store (WAL), audit log file, rate limit raised out of the way; CSRs from distinct P-256 keys made before timing.",
    "",
    mdTable(["measure", "median", "runs"], rows),
  ].join("\n");
}

function apiMarkdown(r: ApiResult, inprocSign: number): string {
  const m = (f: (x: ApiRun) => number) => median(r.runs.map(f));
  const runs = (f: (x: ApiRun) => number, d?: number) => fmtRuns(r.runs.map(f), d);
  const rows = [
    ["`POST /v1/sign` signings/s", fmt(m((x) => x.signPerSec)), runs((x) => x.signPerSec)],
    ["latency p50, ms", fmt(m((x) => x.p50Ms), 2), runs((x) => x.p50Ms, 2)],
    ["latency p99, ms", fmt(m((x) => x.p99Ms), 2), runs((x) => x.p99Ms, 2)],
    ["baseline: `GET /healthz` on the same connections, req/s", fmt(m((x) => x.healthPerSec)), runs((x) => x.healthPerSec)],
    ["**signings/s ÷ healthz req/s**", fmt(m((x) => x.signPerSec / x.healthPerSec), 3), runs((x) => x.signPerSec / x.healthPerSec, 3)],
    ["signings/s ÷ in-process signings/s (this run)", fmt(m((x) => x.signPerSec) / inprocSign, 3), ""],
    ["server CPU during signing, cores", fmt(m((x) => x.serverCores), 2), runs((x) => x.serverCores, 2)],
    ["signings per server CPU-second", fmt(m((x) => x.perServerCpuSecond)), runs((x) => x.perServerCpuSecond)],
    ["server CPU per signing, µs", fmt(1e6 / m((x) => x.perServerCpuSecond)), ""],
    ["client (bench process) CPU, cores", fmt(m((x) => x.clientCores), 2), runs((x) => x.clientCores, 2)],
  ];
  return [
    `\`mesh ca serve\` in a child process (${r.placement}); ${r.plan.runs} runs of ${fmt(r.plan.count)} signings over ${r.plan.concurrency} mTLS keep-alive connections (TLS 1.3, node SVID from \`/v1/attest\`), ${r.plan.concurrency} requests in flight; ${fmt(r.plan.warmup, 0)} warm-up signings first. Each run times ${fmt(r.plan.count)} \`/healthz\` requests right before its signings.`,
    "The client runs on the same machine: it needs CPU too (last row), which is why it is kept off the server's core. Server CPU comes from /proc/<pid>/stat.",
    "",
    mdTable(["measure", "median", "runs"], rows),
  ].join("\n");
}

function partsMarkdown(parts: Part[], inprocSign: number, serverUsPerSign: number): string {
  const perSign = 1e6 / inprocSign;
  const sum = parts.filter((p) => p.inSignPath).reduce((a, p) => a + p.us, 0);
  const bundle = parts.find((p) => p.note === "HTTPS only");
  const us = (v: number) => fmt(v, v < 10 ? 1 : 0);
  const share = (v: number) => `${fmt((100 * v) / perSign, 0)} %`;
  const rows = parts.map((p) => [p.name, us(p.us), p.inSignPath || p.name.startsWith("  ") ? share(p.us) : ""]);
  rows.push(["**sum of the steps of the signing path**", us(sum), share(sum)]);
  rows.push(["remainder: glue code, GC, caches gone cold when the steps run together", us(perSign - sum), share(perSign - sum)]);
  rows.push(["measured in-process, µs per signing (median above)", us(perSign), "100 %"]);
  return [
    `Each step of \`NodeApi.sign\` timed alone (median of runs, on a separate CA), as a share of the measured in-process µs per signing. The HTTPS server spends ${fmt(serverUsPerSign)} µs of CPU per signing; ${bundle ? `building the trust bundle for each reply costs ${fmt(bundle.us)} µs of that` : ""}.`,
    "",
    mdTable(["step", "µs per call", "share of a signing"], rows),
  ].join("\n");
}

export const caSign: Benchmark = {
  name: "ca-sign",
  description: "CSR signings per second (ECDSA P-256), in-process and through the HTTPS API",
  budgetMs: 15 * 60_000,
  async run(ctx: BenchContext): Promise<Section> {
    const plan = plans(ctx.quick);
    ctx.log(`making ${plan.pool} CSRs (distinct P-256 keys) before timing`);
    const pool = makeCsrs(plan.pool);
    const inproc = runInProcess(ctx, pool, plan.inproc);
    const api = await runThroughApi(ctx, pool, plan.api);
    ctx.log("timing the steps of a signing one by one");
    const parts = measureParts(ctx, pool, plan.parts.runs, plan.parts.count);

    const inprocSign = median(inproc.signPerSec);
    const apiSign = median(api.runs.map((x) => x.signPerSec));
    const perCore = median(api.runs.map((x) => x.perServerCpuSecond));
    const truncated = inproc.truncated || api.truncated;
    const rows: Row[] = [
      { metric: "in-process signings/s (median)", value: fmt(inprocSign), goal: goalText(GOAL_INPROC), status: status(GOAL_INPROC, inprocSign) },
      { metric: "  ÷ raw ECDSA sign/s (same run)", value: fmt(median(inproc.ratio), 3), status: "info" },
      { metric: "HTTPS /v1/sign signings/s (median)", value: fmt(apiSign), goal: goalText(GOAL_API), status: status(GOAL_API, apiSign) },
      { metric: "  p50 / p99 latency, ms", value: `${fmt(median(api.runs.map((x) => x.p50Ms)), 2)} / ${fmt(median(api.runs.map((x) => x.p99Ms)), 2)}`, status: "info" },
      { metric: "  ÷ healthz req/s (same run)", value: fmt(median(api.runs.map((x) => x.signPerSec / x.healthPerSec)), 3), status: "info" },
      { metric: "  signings per server CPU-second", value: fmt(perCore), status: "info" },
    ];
    const goals = mdTable(
      ["goal", "target", "median", "result"],
      [
        ["signings/s in-process", goalText(GOAL_INPROC), fmt(inprocSign), `**${status(GOAL_INPROC, inprocSign)}**`],
        ["signings/s through the HTTPS API, server on one core", goalText(GOAL_API), fmt(apiSign), `**${status(GOAL_API, apiSign)}**`],
      ],
    );
    const markdown = [
      goals,
      "",
      "For scale: Consul's CA limits CSR signing to 50/s by default (`csr_max_per_second`); its documentation puts a laptop at about 100 signings/s on ~40 % of a core.",
      truncated ? "\n**Warning:** a time limit cut at least one loop short; the rates are still per second of measured time." : "",
      "",
      "### In-process",
      "",
      inprocMarkdown(inproc),
      "",
      "### Through the HTTPS API",
      "",
      apiMarkdown(api, inprocSign),
      "",
      "### Where the time goes",
      "",
      partsMarkdown(parts, inprocSign, 1e6 / perCore),
      "",
      `Checked after the runs. In-process: ${inproc.checks.join("; ")}. API: ${api.checks.join("; ")}.`,
    ].join("\n");
    return { markdown: markdown.replace(/\n{3,}/g, "\n\n"), rows };
  },
};
