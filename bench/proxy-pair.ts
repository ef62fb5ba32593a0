/**
 * proxy-pair: what two sidecars cost on a request, against a pair of nginx
 * doing the same job (HTTP in, mTLS TLS 1.3 between them with pooled
 * keep-alive connections, HTTP to the app) and against calling the app
 * directly, all three in the same run. Goals: added p50 latency ≤ 2× the
 * nginx pair's, throughput at 50 connections ≥ 0.5× the nginx pair's,
 * ≤ 80 MiB resident per sidecar under load.
 */
import { ensureDebianTool, findExecutable } from "./lib/debian-tools.js";
import { nginxVersion } from "./lib/nginx.js";
import { MB } from "./lib/proc-status.js";
import { fmt, fmtRuns, mdTable, median } from "./lib/stats.js";
import type { Benchmark, BenchContext, Row, Section } from "./lib/types.js";
import { latencyRun, loadRun, loadWarmup, type LatencyFig, type LoadFig, type LoadGenerator, type PerTarget } from "./proxy-pair-measure.js";
import { BODY_BYTES, NGINX_WORKERS, startTopology, TARGETS } from "./proxy-pair-setup.js";

const GOAL_P50_RATIO = 2;
const GOAL_RPS_RATIO = 0.5;
const GOAL_RSS_MIB = 80;

function plan(quick: boolean) {
  return quick
    ? { runs: 3, latency: { warmup: 100, count: 500, maxMs: 10_000 }, load: { connections: 50, durationS: 2, warmupS: 1 } }
    : { runs: 5, latency: { warmup: 300, count: 3000, maxMs: 30_000 }, load: { connections: 50, durationS: 5, warmupS: 3 } };
}

type Plan = ReturnType<typeof plan>;
const status = (ok: boolean) => (ok ? "PASS" : "FAIL");
const mib = (b: number) => b / MB;
/** a ÷ b, undefined (NaN) when b is not positive: an added latency at or below zero (noise) has no meaningful ratio. */
const ratio = (a: number, b: number) => (b > 0 ? a / b : Number.NaN);
/** Median of the finite values (per-run ratios whose denominator was not positive are left out). */
const finiteMedian = (xs: readonly number[]) => median(xs.filter(Number.isFinite));
const runsText = (xs: readonly number[], d?: number) => fmtRuns(xs, d).replace(/NaN/g, "n/a");

interface Results {
  lat: PerTarget<LatencyFig>[];
  load: PerTarget<LoadFig>[];
}

function latencyMarkdown(r: Results, p: Plan): string {
  const col = (f: (x: PerTarget<LatencyFig>) => number, d = 3) => [fmt(finiteMedian(r.lat.map(f)), d), runsText(r.lat.map(f), d)];
  const rows = [
    ["(a) direct p50, ms", ...col((x) => x.direct.p50Ms)],
    ["(b) ours p50, ms", ...col((x) => x.ours.p50Ms)],
    ["(c) nginx pair p50, ms", ...col((x) => x.nginx.p50Ms)],
    ["**added p50, ours (b − a), ms**", ...col((x) => x.ours.p50Ms - x.direct.p50Ms)],
    ["**added p50, nginx (c − a), ms**", ...col((x) => x.nginx.p50Ms - x.direct.p50Ms)],
    ["**added p50 ratio, ours ÷ nginx**", ...col((x) => ratio(x.ours.p50Ms - x.direct.p50Ms, x.nginx.p50Ms - x.direct.p50Ms), 2)],
    ["(a) direct p99, ms", ...col((x) => x.direct.p99Ms)],
    ["(b) ours p99, ms", ...col((x) => x.ours.p99Ms)],
    ["(c) nginx pair p99, ms", ...col((x) => x.nginx.p99Ms)],
    ["added p99, ours (b − a), ms", ...col((x) => x.ours.p99Ms - x.direct.p99Ms)],
    ["added p99, nginx (c − a), ms", ...col((x) => x.nginx.p99Ms - x.direct.p99Ms)],
    ["added p99 ratio, ours ÷ nginx", ...col((x) => ratio(x.ours.p99Ms - x.direct.p99Ms, x.nginx.p99Ms - x.direct.p99Ms), 2)],
  ];
  return [
    `Each run sends ${fmt(p.latency.count)} sequential GETs (after ${fmt(p.latency.warmup)} warm-up requests) on one keep-alive connection to each path, from a client in its own process (undici Client); the order of the three paths rotates from run to run. Ratios are per run (n/a where nginx's added latency came out at or below zero, i.e. within the noise); their median leaves those out.`,
    "",
    mdTable(["measure", "median", "runs"], rows),
  ].join("\n");
}

function loadMarkdown(r: Results, p: Plan, gen: string): string {
  const col = (f: (x: PerTarget<LoadFig>) => number, d?: number) => [fmt(finiteMedian(r.load.map(f)), d), runsText(r.load.map(f), d)];
  const perCpu = (x: LoadFig) => x.reqPerSec / (x.coresA + x.coresB);
  const rows = [
    ["(a) direct, req/s", ...col((x) => x.direct.reqPerSec)],
    ["(b) ours, req/s", ...col((x) => x.ours.reqPerSec)],
    ["(c) nginx pair, req/s", ...col((x) => x.nginx.reqPerSec)],
    ["**ours ÷ nginx pair**", ...col((x) => ratio(x.ours.reqPerSec, x.nginx.reqPerSec), 3)],
    ["ours ÷ direct", ...col((x) => ratio(x.ours.reqPerSec, x.direct.reqPerSec), 3)],
    ["nginx pair ÷ direct", ...col((x) => ratio(x.nginx.reqPerSec, x.direct.reqPerSec), 3)],
    ["p50 / p99 under load, ours, ms", `${fmt(median(r.load.map((x) => x.ours.p50Ms)), 2)} / ${fmt(median(r.load.map((x) => x.ours.p99Ms)), 2)}`, ""],
    ["p50 / p99 under load, nginx pair, ms", `${fmt(median(r.load.map((x) => x.nginx.p50Ms)), 2)} / ${fmt(median(r.load.map((x) => x.nginx.p99Ms)), 2)}`, ""],
    ["p50 / p99 under load, direct, ms", `${fmt(median(r.load.map((x) => x.direct.p50Ms)), 2)} / ${fmt(median(r.load.map((x) => x.direct.p99Ms)), 2)}`, ""],
    ["sidecar A CPU, cores", ...col((x) => x.ours.coresA, 2)],
    ["sidecar B CPU, cores", ...col((x) => x.ours.coresB, 2)],
    ["nginx A CPU (master + worker), cores", ...col((x) => x.nginx.coresA, 2)],
    ["nginx B CPU (master + worker), cores", ...col((x) => x.nginx.coresB, 2)],
    ["requests per proxy CPU-second (A + B), ours", ...col((x) => perCpu(x.ours))],
    ["requests per proxy CPU-second (A + B), nginx pair", ...col((x) => perCpu(x.nginx))],
    ["proxy CPU per request (A + B), ours, µs", ...col((x) => 1e6 / perCpu(x.ours), 1)],
    ["proxy CPU per request (A + B), nginx pair, µs", ...col((x) => 1e6 / perCpu(x.nginx), 1)],
    ["app CPU during ours / nginx / direct, cores", `${fmt(median(r.load.map((x) => x.ours.appCores)), 2)} / ${fmt(median(r.load.map((x) => x.nginx.appCores)), 2)} / ${fmt(median(r.load.map((x) => x.direct.appCores)), 2)}`, ""],
    ["load generator CPU during ours / nginx / direct, cores", `${fmt(median(r.load.map((x) => x.ours.clientCores)), 2)} / ${fmt(median(r.load.map((x) => x.nginx.clientCores)), 2)} / ${fmt(median(r.load.map((x) => x.direct.clientCores)), 2)}`, ""],
  ];
  return [
    `Each run drives each path for ${p.load.durationS} s with ${p.load.connections} keep-alive connections, one request in flight on each, using ${gen}; the order of the paths rotates from run to run. CPU comes from /proc/<pid>/stat over the load window.`,
    "",
    mdTable(["measure", "median", "runs"], rows),
  ].join("\n");
}

function memoryMarkdown(r: Results): string {
  const col = (f: (x: PerTarget<LoadFig>) => number) => [fmt(median(r.load.map(f)), 1), fmtRuns(r.load.map(f), 1)];
  const pair = (a: (x: PerTarget<LoadFig>) => number, b: (x: PerTarget<LoadFig>) => number) => [
    `${fmt(mib(median(r.load.map(a))), 1)} / ${fmt(mib(median(r.load.map(b))), 1)}`,
    r.load.map((x) => `${fmt(mib(a(x)), 1)}/${fmt(mib(b(x)), 1)}`).join(" · "),
  ];
  const rows = [
    ["**sidecar A (outbound), MiB**", ...col((x) => mib(x.ours.memA.endBytes))],
    ["**sidecar B (inbound), MiB**", ...col((x) => mib(x.ours.memB.endBytes))],
    ["sidecars A + B, MiB", ...col((x) => mib(x.ours.memA.endBytes + x.ours.memB.endBytes))],
    ["highest sample, larger of A and B, MiB", ...col((x) => mib(Math.max(x.ours.memA.peakBytes, x.ours.memB.peakBytes)))],
    ["private (RssAnon), sidecar A / B, MiB", ...pair((x) => x.ours.memA.endAnonBytes, (x) => x.ours.memB.endAnonBytes)],
    ["PSS (shared pages split), sidecar A / B, MiB", ...pair((x) => x.ours.memA.endPssBytes, (x) => x.ours.memB.endPssBytes)],
    ["nginx A (master + worker), MiB", ...col((x) => mib(x.nginx.memA.endBytes))],
    ["nginx B (master + worker), MiB", ...col((x) => mib(x.nginx.memB.endBytes))],
    ["nginx A + B, MiB", ...col((x) => mib(x.nginx.memA.endBytes + x.nginx.memB.endBytes))],
    ["private (RssAnon), nginx A / B, MiB", ...pair((x) => x.nginx.memA.endAnonBytes, (x) => x.nginx.memB.endAnonBytes)],
    ["PSS (shared pages split), nginx A / B, MiB", ...pair((x) => x.nginx.memA.endPssBytes, (x) => x.nginx.memB.endPssBytes)],
  ];
  return [
    "VmRSS from /proc/<pid>/status, sampled every 200 ms during each load run; the figure is the last sample before the load ended (MiB = 2^20 bytes). VmRSS (the goal's measure) counts file pages too: for a sidecar some 40 MiB of the node binary, shared by every Node.js process. RssAnon is the process's own memory; PSS divides each shared page among the processes that map it.",
    "",
    mdTable(["measure", "median", "runs"], rows),
  ].join("\n");
}

/** What was timed really happened: every response 200 with the body, and the app saw each path's requests arrive the way they should. */
function check(r: Results, counts: { direct: number; mesh: number; nginx: number; other: number }, p: Plan): string[] {
  const problems: string[] = [];
  for (const t of TARGETS) {
    const failed = r.lat.reduce((a, x) => a + x[t].failed, 0);
    const errors = r.load.reduce((a, x) => a + x[t].errors, 0);
    const conns = r.lat.map((x) => x[t].connections);
    if (failed > 0) problems.push(`${t}: ${failed} latency requests failed (${r.lat.find((x) => x[t].firstError)?.[t].firstError ?? ""})`);
    if (errors > 0) problems.push(`${t}: ${errors} errors under load (socket errors or non-200 responses)`);
    if (conns.some((c) => c !== 1)) problems.push(`${t}: the latency client opened ${conns.join("/")} connections per run instead of 1`);
  }
  if (counts.other > 0) problems.push(`the app saw ${counts.other} requests that came by no expected path`);
  const sent = (t: "ours" | "nginx") => r.lat.reduce((a, x) => a + x[t].done, 0) + r.load.reduce((a, x) => a + x[t].requests, 0);
  if (counts.mesh < sent("ours")) problems.push(`the app saw ${counts.mesh} requests through the sidecars, fewer than the ${sent("ours")} the clients completed`);
  if (counts.nginx < sent("nginx")) problems.push(`the app saw ${counts.nginx} requests through nginx, fewer than the ${sent("nginx")} the clients completed`);
  if (problems.length > 0) throw new Error(`checks failed: ${problems.join("; ")}`);
  return [
    `every latency request answered 200 with the ${BODY_BYTES}-byte body on a single kept-alive connection per path and run`,
    `no socket errors or non-200 responses under load`,
    `the app counted ${fmt(counts.mesh)} requests carrying sidecar B's XFCC with sidecar A's SPIFFE ID (clients completed ${fmt(sent("ours"))}), ${fmt(counts.nginx)} tagged by nginx B with a verified client certificate over TLS 1.3 (clients completed ${fmt(sent("nginx"))}), ${fmt(counts.direct)} direct, none by another path`,
    p.runs >= 5 ? "" : "fewer than 5 runs: smoke figures only",
  ].filter((s) => s !== "");
}

export const proxyPair: Benchmark = {
  name: "proxy-pair",
  description: "two sidecars (HTTP → mTLS → HTTP) against an nginx pair and a direct call: added latency, throughput at 50 connections, RSS",
  budgetMs: 12 * 60_000,
  async unavailable(ctx: BenchContext): Promise<string | undefined> {
    const nginx = await ensureDebianTool("nginx", "nginx", ctx.log);
    if (!nginx.path) return nginx.why;
    // wrk is optional: without it the load comes from an undici client in its own process
    const wrk = await ensureDebianTool("wrk", "wrk", ctx.log);
    if (!wrk.path) ctx.log(`${wrk.why}; using the undici load client instead`);
    return undefined;
  },
  async run(ctx: BenchContext): Promise<Section> {
    const p = plan(ctx.quick);
    const nginxBin = findExecutable("nginx");
    if (!nginxBin) throw new Error("nginx is not installed (apt-get install nginx)");
    const wrkBin = findExecutable("wrk");
    const gen: LoadGenerator = wrkBin ? { kind: "wrk", bin: wrkBin, threads: 1 } : { kind: "undici" };
    const genText = wrkBin ? "wrk (1 thread)" : "an undici Pool in its own Node.js process (wrk was not installed)";
    const nginxV = await nginxVersion(nginxBin);

    const topo = await startTopology(ctx, nginxBin);
    const r: Results = { lat: [], load: [] };
    for (let i = 0; i < p.runs; i++) {
      ctx.log(`latency run ${i + 1}/${p.runs}`);
      r.lat.push(await latencyRun(ctx, topo, p.latency, i));
    }
    ctx.log(`load warm-up (${p.load.warmupS} s per path)`);
    await loadWarmup(ctx, topo, gen, p.load);
    for (let i = 0; i < p.runs; i++) {
      ctx.log(`load run ${i + 1}/${p.runs}`);
      r.load.push(await loadRun(ctx, topo, gen, p.load, i));
    }
    const checks = check(r, await topo.counts(), p);

    const addOurs = median(r.lat.map((x) => x.ours.p50Ms - x.direct.p50Ms));
    const addNginx = median(r.lat.map((x) => x.nginx.p50Ms - x.direct.p50Ms));
    const p50Ratio = finiteMedian(r.lat.map((x) => ratio(x.ours.p50Ms - x.direct.p50Ms, x.nginx.p50Ms - x.direct.p50Ms)));
    const rpsOurs = median(r.load.map((x) => x.ours.reqPerSec));
    const rpsNginx = median(r.load.map((x) => x.nginx.reqPerSec));
    const rpsRatio = finiteMedian(r.load.map((x) => ratio(x.ours.reqPerSec, x.nginx.reqPerSec)));
    const rssA = mib(median(r.load.map((x) => x.ours.memA.endBytes)));
    const rssB = mib(median(r.load.map((x) => x.ours.memB.endBytes)));
    const rssMax = Math.max(rssA, rssB);
    const ok = { p50: p50Ratio <= GOAL_P50_RATIO, rps: rpsRatio >= GOAL_RPS_RATIO, rss: rssMax <= GOAL_RSS_MIB };

    const rows: Row[] = [
      { metric: "added p50 latency, ours ÷ nginx pair", value: `${fmt(p50Ratio, 2)}× (${fmt(addOurs, 3)} vs ${fmt(addNginx, 3)} ms)`, goal: `≤ ${GOAL_P50_RATIO}×`, status: status(ok.p50) },
      { metric: "  added p99, ours / nginx pair, ms", value: `${fmt(median(r.lat.map((x) => x.ours.p99Ms - x.direct.p99Ms)), 3)} / ${fmt(median(r.lat.map((x) => x.nginx.p99Ms - x.direct.p99Ms)), 3)}`, status: "info" },
      { metric: `throughput at ${p.load.connections} connections, ours ÷ nginx pair`, value: `${fmt(rpsRatio, 3)}× (${fmt(rpsOurs)} vs ${fmt(rpsNginx)} req/s)`, goal: `≥ ${GOAL_RPS_RATIO}×`, status: status(ok.rps) },
      { metric: "  direct req/s (same run)", value: fmt(median(r.load.map((x) => x.direct.reqPerSec))), status: "info" },
      { metric: "RSS per sidecar under load, A / B, MiB", value: `${fmt(rssA, 1)} / ${fmt(rssB, 1)}`, goal: `≤ ${GOAL_RSS_MIB} MiB each`, status: status(ok.rss) },
    ];
    const goals = mdTable(
      ["goal", "target", "median", "result"],
      [
        ["added p50 latency at one connection, ours ÷ nginx pair", `≤ ${GOAL_P50_RATIO}×`, `${fmt(p50Ratio, 2)}× (${fmt(addOurs, 3)} ms vs ${fmt(addNginx, 3)} ms)`, `**${status(ok.p50)}**`],
        [`throughput at ${p.load.connections} connections, ours ÷ nginx pair`, `≥ ${GOAL_RPS_RATIO}×`, `${fmt(rpsRatio, 3)}× (${fmt(rpsOurs)} vs ${fmt(rpsNginx)} req/s)`, `**${status(ok.rps)}**`],
        ["RSS per sidecar at the end of the load", `≤ ${GOAL_RSS_MIB} MiB`, `A ${fmt(rssA, 1)} MiB, B ${fmt(rssB, 1)} MiB`, `**${status(ok.rss)}**`],
      ],
    );
    const truncated = r.lat.some((x) => TARGETS.some((t) => x[t].truncated));
    const cores = `${ctx.machine.cores}${ctx.machine.cpuQuota ? ` (${ctx.machine.cpuQuota})` : ""}`;
    const markdown = [
      goals,
      "",
      `Paths, all on loopback, to one app (node:http in its own process, GET → 200 with a ${BODY_BYTES}-byte body): **(a)** client → app; **(b)** client → sidecar A (\`mesh proxy\`, outbound listener, plain HTTP) → mTLS, TLS 1.3, pooled keep-alive → sidecar B (inbound listener) → app; **(c)** client → nginx A (HTTP; \`proxy_pass https\` with \`proxy_ssl_certificate\`, \`proxy_ssl_verify on\`, TLS 1.3, upstream \`keepalive 64\`) → nginx B (\`ssl_verify_client on\`, TLS 1.3) → app (upstream \`keepalive 64\`).`,
      `Identities: an in-process CA (ECDSA P-256); the sidecars get X509-SVIDs from an in-process SDS server as from an agent; nginx gets certificates from the same CA with a DNS SAN (\`localhost\`, checked through \`proxy_ssl_name\`). Neither side logs requests (sidecars \`access_log: off\`, nginx \`access_log off\`); the sidecars run without filters, so (b) is the mTLS, SVID check, routing and forwarding path only.`,
      `Processes: each sidecar is one Node.js process; each nginx runs a master and **${NGINX_WORKERS} worker** (\`worker_processes ${NGINX_WORKERS}\`) so both pairs have one event loop per proxy. ${nginxV}. Everything (load client, app, two proxies) shares the machine's ${cores} cores; nothing is pinned.`,
      ctx.peerNodeFlags.length > 0 ? "\n**Profiled run** (sidecars under `--cpu-prof`): the sidecar figures are biased." : "",
      truncated ? "\n**Warning:** a time limit cut at least one latency loop short; its percentiles are over the requests it made." : "",
      "",
      "### Latency at one connection",
      "",
      latencyMarkdown(r, p),
      "",
      `### Throughput at ${p.load.connections} connections`,
      "",
      loadMarkdown(r, p, genText),
      "",
      "### Memory under load",
      "",
      memoryMarkdown(r),
      "",
      `Checked after the runs: ${checks.join("; ")}.`,
    ].join("\n");
    return { markdown: markdown.replace(/\n{3,}/g, "\n\n"), rows };
  },
};
