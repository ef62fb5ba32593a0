/** auth-cost: the markdown tables of the in-process and through-the-proxy parts. */
import { BASIC_KINDS, FAST_CASES, type FastCase, type InprocResult } from "./auth-cost-inproc.js";
import { BASELINE_OF, PROTECTED, type LoadFig, type LoadPlan, type LoadRun, type LoadTarget, type ProtectedTarget } from "./auth-cost-load.js";
import { fmt, fmtRuns, mdTable, median } from "./lib/stats.js";

export const GOAL_WARM_US = 20;
export const GOAL_DROP = 0.1;

export const CASE_LABEL: Record<FastCase, string> = {
  none: "baseline: no rule (the same filter, an unprotected route)",
  "jwt-es-warm": "JWT ES256, warm (verified-token cache hit; the cache holds this token only)",
  "jwt-es-warm-full": "JWT ES256, warm, the same hot token in a full cache (10,000 tokens, the default cache_size)",
  "jwt-es-cold": "JWT ES256, cold (cache miss: a fresh token each call)",
  "jwt-rs-warm": "JWT RS256 (2048-bit), warm (cache hit; this token only)",
  "jwt-rs-cold": "JWT RS256 (2048-bit), cold (cache miss: a fresh token each call)",
  hmac: "HMAC-SHA256 (date + request-line, a fresh signature each call, replay check on, replay cache not full)",
  "hmac-full": "HMAC-SHA256, the replay cache full (100,000 signatures, the default replay_cache_size)",
  "basic-warm": "Basic, warm (verify-cache hit; the cache holds this user only)",
  "basic-warm-full": "Basic, warm, the same hot user in a full verify cache (10,000 users, the default verify_cache_entries)",
  key: "API key (header)",
};

export const TARGET_LABEL: Record<LoadTarget, string> = {
  open: "baseline: unprotected route",
  "jwt-es": "JWT ES256 (one token: cache hit)",
  "jwt-rs": "JWT RS256 (one token: cache hit)",
  basic: "Basic, scrypt user (verify-cache hit)",
  key: "API key (header)",
  "open-signed": "baseline for HMAC: unprotected route, signed-list requests",
  hmac: "HMAC-SHA256 (a fresh signature per request, replay check on)",
};

const COLD_LABEL = { scrypt: "scrypt ln=15, r=8, p=1", bcrypt10: "bcrypt cost 10 (bcryptjs)", bcrypt12: "bcrypt cost 12 (bcryptjs)" } as const;

/** Per-run added µs: the case minus the baseline of the same run. */
export function addedUs(r: InprocResult, k: FastCase): number[] {
  return r.us[k].map((v, i) => v - r.us.none[i]!);
}

export function inprocMarkdown(r: InprocResult): string {
  const us = (v: number) => fmt(v, v < 10 ? 2 : 1);
  const rows: string[][] = FAST_CASES.map((k) => [
    k === "none" ? CASE_LABEL[k] : (k.startsWith("jwt") && k.includes("-warm")) || k === "key" ? `**${CASE_LABEL[k]}**` : CASE_LABEL[k],
    us(median(r.us[k])),
    k === "none" ? "" : us(median(addedUs(r, k))),
    us(median(r.cpuUs[k])),
    fmtRuns(r.us[k], 2),
  ]);
  for (const [alg, key] of [["ES256", "es"], ["RS256", "rs"]] as const) {
    const ms = r.firstCallMs[key];
    rows.push([`JWT ${alg}, the first call of a freshly built filter (key import + cold verify), **ms**`, fmt(median(ms), 2), "", "", fmtRuns(ms, 2)]);
  }
  const plan = r.plan;
  return [
    `Each of ${plan.runs} runs times, in rotating order, ${fmt(plan.calls.none)} decisions of each warm case and the baseline, ${fmt(plan.calls.hmac)} of each HMAC case, ${fmt(plan.calls["jwt-es-cold"])} cold ES256 and ${fmt(plan.calls["jwt-rs-cold"])} cold RS256 decisions, then the cold Basic checks and the first call of a new filter; one warm-up pass first. "Added" is the case minus the baseline of the same run (median of the per-run differences). A decision that comes back as a promise (a JWT cache miss) is awaited before the next, so cold figures are latencies on an otherwise idle event loop.`,
    "",
    mdTable(["case", "µs per decision (median)", "added µs vs no rule", "process CPU µs per decision (median)", "runs, µs per decision"], rows),
    "",
    "µs per decision is wall-clock time (what the goal is judged on). The CPU column is the process's CPU time (all threads) over the same loop: on a shared machine the wall clock also counts time the bench thread waited for a core, the CPU time does not (it may exceed the wall time when V8's helper threads work alongside).",
    "",
    "The first-call row is a fresh `authnFilter.create` (the JWKS file read at create time is not timed) and one fresh token: jose imports the key on the first verify. The first run's value also carries module and JIT warm-up.",
    "",
    mdTable(
      ["cold Basic check (cache miss: verify_cache 0s)", "ms per check (median)", "CPU ms per check, all threads (median)", "runs, ms per check"],
      BASIC_KINDS.map((k) => [COLD_LABEL[k], fmt(median(r.cold[k].ms), 1), fmt(median(r.cold[k].cpuMs), 1), fmtRuns(r.cold[k].ms, 1)]),
    ),
    "",
    `Checks per run: ${BASIC_KINDS.map((k) => `${COLD_LABEL[k]} ${plan.coldChecks[k]}`).join(", ")}, one after another. scrypt runs in libuv's thread pool (the event loop stays free); bcryptjs is JavaScript on the event loop, yielding between rounds, so its CPU is taken from the proxy's own thread.`,
  ].join("\n");
}

function busyPairs(runs: readonly LoadRun[], plan: LoadPlan): number {
  return runs.reduce((a, x) => a + PROTECTED.filter((t) => x[t].otherCores > plan.quietCores).length, 0);
}

/** Per-run drop of a protected route against the baseline measured next to it (0.05 = 5 % fewer requests/s). */
export function drops(runs: readonly LoadRun[], t: ProtectedTarget): number[] {
  return runs.map((x) => 1 - x[t].subject.reqPerSec / x[t].base.reqPerSec);
}

/** Per-run drop in what the proxy could serve if CPU-bound: 1 − (baseline CPU per request ÷ the route's CPU per request). */
export function cpuDrops(runs: readonly LoadRun[], t: ProtectedTarget): number[] {
  return runs.map((x) => 1 - x[t].base.proxyUsPerReq / x[t].subject.proxyUsPerReq);
}

/** The in-process case that matches what each protected route sends under load (one credential, small caches). */
export const INPROC_OF: Record<ProtectedTarget, FastCase> = { "jwt-es": "jwt-es-warm", "jwt-rs": "jwt-rs-warm", basic: "basic-warm", key: "key", hmac: "hmac" };

/**
 * The drop a CPU-bound proxy would show if a request cost the in-process
 * added µs more: added ÷ (baseline proxy CPU per request + added), per run.
 */
export function predictedDrops(runs: readonly LoadRun[], inproc: InprocResult, t: ProtectedTarget): number[] {
  const added = median(addedUs(inproc, INPROC_OF[t]));
  return runs.map((x) => added / (x[t].base.proxyUsPerReq + added));
}

export function loadMarkdown(runs: readonly LoadRun[], plan: LoadPlan, genText: string, inproc: InprocResult): string {
  const m = (t: ProtectedTarget, f: (x: LoadRun[ProtectedTarget]) => number, d?: number) => fmt(median(runs.map((x) => f(x[t]))), d);
  const pctRuns = (v: number[]) => v.map((x) => fmt(x * 100, 1)).join(" · ");
  const rows = PROTECTED.map((t) => {
    const d = drops(runs, t);
    const cd = cpuDrops(runs, t);
    return [
      `**${TARGET_LABEL[t]}**`,
      m(t, (x) => x.subject.reqPerSec),
      m(t, (x) => x.base.reqPerSec),
      `${fmt(median(d) * 100, 1)} %`,
      pctRuns(d),
      `${m(t, (x) => x.subject.proxyUsPerReq, 1)} / ${m(t, (x) => x.base.proxyUsPerReq, 1)}`,
      m(t, (x) => x.subject.proxyUsPerReq - x.base.proxyUsPerReq, 1),
      `${fmt(median(cd) * 100, 1)} %`,
      `${fmt(median(predictedDrops(runs, inproc, t)) * 100, 1)} %`,
      `${m(t, (x) => x.subject.p50Ms, 2)} / ${m(t, (x) => x.subject.p99Ms, 2)}`,
      runs.map((x) => `${fmt(x[t].otherCores, 2)}${x[t].attempts > 1 ? ` (${x[t].attempts})` : ""}`).join(" · "),
      median(d) <= GOAL_DROP ? "**PASS**" : "**FAIL**",
    ];
  });
  const all = runs.flatMap((x) => PROTECTED.flatMap((t) => [x[t].base, x[t].subject]));
  const cores = (f: (x: LoadFig) => number) => fmt(median(all.map(f)), 2);
  const base = (b: LoadTarget) => fmtRuns(runs.flatMap((x) => PROTECTED.filter((t) => BASELINE_OF[t] === b).map((t) => x[t].base.reqPerSec)));
  return [
    `Each of ${runs.length} runs measures every protected route interleaved with its baseline (the unprotected route; for HMAC the unprotected route fed by the same kind of signed list, so that wrk's Lua cost is the same on both sides) in four ${plan.sliceS} s slices, A B B A, so ${2 * plan.sliceS} s per side, with ${plan.connections} keep-alive connections, one request in flight on each, using ${genText}. The order of the routes rotates from run to run and which side opens a pair alternates; a ${plan.warmupS} s warm-up pass per route comes first. req/s is a side's requests over its summed time; p50 / p99 are means over its slices. A pair during which other processes (not the bench, its load generator, the proxy or the app; the kernel's loopback network work, some 0.15 cores at these rates, counts as other) used more than ${plan.quietCores} cores is measured again, ${plan.maxAttempts} attempts at most, and the quietest attempt is kept; ${busyPairs(runs, plan)} of ${runs.length * PROTECTED.length} pairs kept were still above that. The drop is per pair (negative: faster than its baseline, i.e. within the noise), and its median over the runs decides the goal.`,
    "",
    mdTable(["route", "req/s (median)", "its baseline, req/s (median)", "drop (median)", "runs, drop %", "proxy CPU µs per request, route / baseline", "added proxy CPU µs per request", "drop if the proxy were CPU-bound (median)", "drop predicted from the in-process µs", "p50 / p99 ms", "other processes during each pair, cores (attempts)", "≤ 10 % drop"], rows),
    "",
    `Baseline runs, req/s: unprotected route ${base("open")}; signed-list baseline ${base("open-signed")}.`,
    "",
    `The CPU-bound column is 1 − (baseline proxy CPU per request ÷ the route's), per pair: the throughput a saturated proxy would lose. The predicted column is the in-process added µs of the matching case (one credential, caches holding only it) ÷ (the baseline's proxy CPU per request + those µs): what the filter's own work would take from a CPU-bound proxy, nothing else. Proxy CPU comes from /proc/<pid>/stat over each load window; CPU per request is not a constant either (a proxy that is not saturated batches less per event-loop turn and system call, and a busy sibling CPU slows it), so both measured columns carry the machine's noise. Medians over all load windows: proxy ${cores((x) => x.proxyCores)} cores, app ${cores((x) => x.appCores)} cores, load generator ${cores((x) => x.clientCores)} cores.`,
  ].join("\n");
}
