/**
 * waf-speed: what the WAF costs and how it compares with nginx + ModSecurity
 * + CRS (Debian's packages) on four ordinary requests: a plain GET, a GET
 * with query arguments, a form POST and a 4 KiB JSON POST. Through real
 * processes with wrk: the app directly, `mesh proxy` with the WAF off and on
 * (paranoia 1, blocking), and nginx + ModSecurity + CRS at paranoia 1,
 * blocking, all in one run. In process: µs per `WafEngine.evaluate` on the
 * same requests. Goals: with the WAF on, ≥ 10× ModSecurity's throughput, and
 * a median inspection under 100 µs.
 */
import { ensureDebianTool, findExecutable } from "./lib/debian-tools.js";
import { crsVersion, ensureModSecurity } from "./lib/modsecurity.js";
import { nginxVersion } from "./lib/nginx.js";
import { pinSelf, splitCpus } from "./lib/process.js";
import { fmt, fmtRuns } from "./lib/stats.js";
import type { Benchmark, BenchContext, Section } from "./lib/types.js";
import { describeRules, snapshotRules } from "./waf-corpus-setup.js";
import { INPROC_CASES, ruleCosts, runInproc, type CostBreakdown, type InprocPlan, type InprocResult } from "./waf-speed-inproc.js";
import { SpeedLoad, startSpeedTopology, TARGET_LABEL, TARGETS, verifyTargets, type LoadPlan, type LoadRun } from "./waf-speed-load.js";
import { costTable, goalRows, goalTable, inprocTable, runsTable, throughputTable, wafCpuTable } from "./waf-speed-report.js";
import { HOST, JSON_BYTES, jsonItemCounts, KIND_LABEL, KINDS, requestSpec, wrkHeaders, type Kind } from "./waf-speed-requests.js";

/** One nginx worker: the proxy is one Node.js process on one core. */
const NGINX_WORKERS = 1;

const loadPlan = (quick: boolean): LoadPlan =>
  quick ? { runs: 3, connections: 32, sliceS: 1, minCycles: 3, maxSliceS: 5, warmupS: 1 } : { runs: 5, connections: 32, sliceS: 2, minCycles: 5, maxSliceS: 10, warmupS: 1 };
const inprocPlan = (quick: boolean): InprocPlan =>
  quick ? { runs: 3, calls: 2000, maxMs: 300, warmupCalls: 500, warmupMs: 1000 } : { runs: 5, calls: 20_000, maxMs: 2000, warmupCalls: 3000, warmupMs: 3000 };

export const wafSpeed: Benchmark = {
  name: "waf-speed",
  description: "WAF throughput against nginx + ModSecurity + CRS and in-process inspection time, on four ordinary requests",
  budgetMs: 15 * 60_000,
  async unavailable(ctx: BenchContext): Promise<string | undefined> {
    const wrk = await ensureDebianTool("wrk", "wrk", ctx.log);
    if (!wrk.path) return wrk.why;
    const ms = await ensureModSecurity(ctx.log);
    return ms.install ? undefined : ms.why;
  },
  async run(ctx: BenchContext): Promise<Section> {
    const wrkBin = findExecutable("wrk");
    const { install, why } = await ensureModSecurity(ctx.log);
    if (!wrkBin || !install) throw new Error(why ?? "wrk is not installed");
    const lp = loadPlan(ctx.quick);
    const ip = inprocPlan(ctx.quick);
    const snap = await snapshotRules(ctx);
    ctx.log(`rules ${snap.files.join(", ")} (${snap.rules.length} rules, ${snap.digest})`);

    // in process first, on the last CPU, before any peer runs
    const cpus = splitCpus();
    const unpin = cpus ? pinSelf(cpus.target) : undefined;
    ctx.log("in-process inspection times");
    let inproc: InprocResult;
    let costs: Record<Kind, CostBreakdown>;
    try {
      inproc = runInproc(snap.rules, ip, ctx.deadline - 8 * 60_000);
      ctx.log("cost of each rule alone");
      costs = ruleCosts(snap.rules, 5, ctx.deadline - 7 * 60_000);
    } finally {
      unpin?.();
    }
    const benign = KINDS.filter((k) => inproc.cases[k].action !== "pass");
    if (benign.length > 0) throw new Error(`the WAF blocks the ordinary requests ${benign.join(", ")} (rules ${benign.map((k) => inproc.cases[k].ruleIds.join(",")).join("; ")}): nothing to time`);

    const topo = await startSpeedTopology(ctx, snap, install, NGINX_WORKERS);
    const checks = await verifyTargets(topo);
    const load = new SpeedLoad(ctx, topo, wrkBin, lp);
    ctx.log("load warm-up");
    await load.warmup();
    const runs: LoadRun[] = [];
    for (let i = 0; i < lp.runs; i++) {
      if (Date.now() > ctx.deadline - 90_000) break;
      ctx.log(`load run ${i + 1}/${lp.runs}`);
      runs.push(await load.run(i));
    }
    if (runs.length === 0) throw new Error("no load run finished within the budget");
    const problems = await load.checkProblems();
    if (problems.length > 0) throw new Error(`checks failed under load: ${problems.slice(0, 6).join("; ")}${problems.length > 6 ? ` (and ${problems.length - 6} more)` : ""}`);
    const versions = `${await nginxVersion(install.nginx)}; Debian packages ${install.versions}; CRS ${crsVersion(install)}`;
    return { markdown: markdown(ctx, runs, lp, inproc, ip, costs, { rules: describeRules(snap), digest: snap.digest, versions, placement: topo.placement, checks }), rows: goalRows(runs, inproc) };
  },
};

function longSlices(runs: readonly LoadRun[], lp: LoadPlan): string {
  const long: string[] = [];
  for (const t of TARGETS) for (const k of KINDS) if (runs[0]![t][k].seconds > lp.sliceS) long.push(`${TARGET_LABEL[t]}, ${KIND_LABEL[k]}: ${runs[0]![t][k].seconds} s`);
  return long.length === 0 ? "none needed it" : long.join("; ");
}

function callsMade(inproc: InprocResult): string {
  return INPROC_CASES.map((c) => `${c} ${fmtRuns(inproc.cases[c].calls.length > 0 ? inproc.cases[c].calls : inproc.cases[c].fresh.calls, 0)}`).join("; ");
}

function quietness(inproc: InprocResult): string {
  const noisy = KINDS.filter((k) => inproc.cases[k].ruleIds.length > 0);
  return noisy.length === 0 ? "no rule matched any of them" : noisy.map((k) => `${KIND_LABEL[k]}: rules ${inproc.cases[k].ruleIds.join(", ")} matched below the threshold`).join("; ");
}

interface Notes {
  rules: string;
  digest: string;
  versions: string;
  placement: string;
  checks: readonly string[];
}

function markdown(ctx: BenchContext, runs: readonly LoadRun[], lp: LoadPlan, inproc: InprocResult, ip: InprocPlan, costs: Record<Kind, CostBreakdown>, n: Notes): string {
  const headers = Object.entries(wrkHeaders())
    .filter(([k]) => k !== "Host")
    .map(([k, v]) => `\`${k}: ${v}\``)
    .join(", ");
  const order = JSON.parse(requestSpec("json").body!.toString()) as { items: unknown[] };
  const items = jsonItemCounts();
  const kinds = KINDS.map((k) => {
    const s = requestSpec(k);
    return `  - ${KIND_LABEL[k]}: \`${s.method} ${s.path}\`${s.body ? `, \`Content-Type: ${s.contentType}\`, ${fmt(s.body.length)}-byte body` : ""}`;
  });
  const cut = runs.length < lp.runs ? `\n**Warning:** the budget allowed only ${runs.length} of ${lp.runs} load runs.` : "";
  const cutIn = inproc.truncated ? "\n**Warning:** a time limit cut the in-process loops short; their figures are of the calls made." : "";
  return [
    goalTable(runs, inproc),
    cut,
    cutIn,
    "",
    "### Throughput through each target",
    "",
    `wrk, 1 thread, ${lp.connections} keep-alive connections for every target, ${lp.sliceS} s per slice, longer for a target so slow that in ${lp.sliceS} s each connection would not complete ${lp.minCycles} requests (by its warm-up rate; at most ${lp.maxSliceS} s; ${longSlices(runs, lp)}); ${runs.length} runs (after a ${lp.warmupS} s warm-up pass over every target and request), each target and request once per run, the order of the targets rotating; medians of the runs, ratios are medians of the per-run ratios.`,
    "",
    throughputTable(runs),
    "",
    runsTable(runs),
    "",
    "CPU per request of the proxy, i.e. what the WAF adds to the proxy's own work. The last column bounds the throughput goal: the proxy pinned to one CPU cannot serve a request for less than its cost with the WAF off, so the WAF-on ÷ ModSecurity ratio can never pass ModSecurity's CPU per request ÷ the proxy's with the WAF off, however cheap the WAF:",
    "",
    wafCpuTable(runs),
    "",
    "### Inspection time in process",
    "",
    `\`WafEngine.evaluate\` on each request as the proxy's waf filter hands it over (\`WafInput\`: raw target, header pairs with lower-case names, body bytes), paranoia 1, blocking, ${inproc.activeRules} active rules; each call timed on its own (\`process.hrtime.bigint\`), ${fmt(ip.calls)} calls per request per run or as many as fit in ${fmt(ip.maxMs / 1000, 1)} s (calls made: ${callsMade(inproc)}), after up to ${fmt(ip.warmupCalls)} warm-up rounds (${fmt(ip.warmupMs / 1000, 0)} s at most), ${ip.runs} runs with the order rotating, on one pinned CPU before any peer process started. Two figures per request: the same request again and again (every value already in the engine's bounded memory of values), and **fresh values on every call** (the query, form and JSON string values get a new suffix each call, so the engine has never seen them; headers and field names repeat, as they do from many users of one client). The fresh JSON body is built like the one sent again and again, a shop order of exactly 4,096 bytes, with the suffix on every string value from the start: ${items.fresh} line items fit instead of ${items.same}. The goal is judged on the fresh figure. For scale, the ${items.same}-item order with the suffixes appended (4.7 to 4.9 KB as the suffix grows, how fresh JSON values were made before) is timed too.`,
    "",
    inprocTable(inproc),
    "",
    "Where the time goes: the parse alone (an engine with no rules) and the costliest paranoia-1 rules, each alone in an engine (up to 30 calls, median, minus the parse). Rough figures, to say which rules to look at:",
    "",
    costTable(costs),
    "",
    "### Set-up",
    "",
    `- Requests (each with \`Host: ${HOST}\` and ${headers}; wrk adds \`Content-Length\`; the POSTs come from a wrk Lua script setting method, body and \`Content-Type\`):`,
    ...kinds,
    `- The JSON body is a shop order of ${fmt(JSON_BYTES)} bytes: customer (with a loyalty object), shipping and billing addresses, ${order.items.length} line items (each with options and tags), payment, shipping, notes, metadata; nested three levels deep.`,
    "- The app: node:http in its own process, 200 with a 100-byte body for any method and path after reading the body; it counts requests and body bytes.",
    `- \`mesh proxy\` (two processes: waf filter \`{mode: off}\` and \`{mode: block, paranoia: 1}\`): one plain-HTTP ingress listener, a catch-all route to the app, \`access_log: off\`, no audit database, identity from an in-process CA over an in-process SdsServer; rules: a snapshot of waf-rules/ (${n.rules}, SHA-256 ${n.digest}…) taken at the start, also used in process.`,
    `- nginx + ModSecurity: ${n.versions}; one worker (the proxy is one Node.js process), upstream keep-alive to the app, \`access_log off\`. Its \`modsecurity_rules_file\` (bench/lib/modsecurity.ts) sets \`SecRuleEngine On\`, \`SecRequestBodyAccess On\` with the JSON and XML body processors, the recommended limits, then Debian's crs-setup.conf, \`tx.paranoia_level=1\`, \`tx.inbound_anomaly_score_threshold=5\` and every CRS rule file: anomaly scoring, blocking. Responses are not inspected and there is no audit log (the proxy's WAF does neither; both would slow ModSecurity down further).`,
    `- Placement: ${n.placement}.`,
    `- Checked: ${n.checks.join("; ")}; in process, the WAF passed the four requests (${quietness(inproc)}); under load, no socket errors and no non-2xx responses on any target (requests wrk gave up on after its 10 s timeout are listed in the runs table, not counted as completed); each request kind has its own path, and on each the app saw at least as many requests as wrk completed (all targets, warm-up included) and exactly one whole body per request.`,
    ctx.quick ? "\nQuick run: fewer and shorter runs; smoke figures only." : "",
  ]
    .join("\n")
    .replace(/\n{3,}/g, "\n\n");
}
