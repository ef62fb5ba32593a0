/** waf-speed tables: goals, throughput per target and kind, every run, in-process inspection times. */
import { fmt, fmtRuns, mdTable, median } from "./lib/stats.js";
import type { Row } from "./lib/types.js";
import { INPROC_CASES, type CostBreakdown, type InprocCase, type InprocResult } from "./waf-speed-inproc.js";
import { TARGET_LABEL, TARGETS, type LoadRun, type Target } from "./waf-speed-load.js";
import { KIND_LABEL, KINDS, type Kind } from "./waf-speed-requests.js";

export const GOAL_RATIO = 10;
export const GOAL_INSPECT_US = 100;

/** A figure, or "–" when there is none (NaN). */
const num = (v: number, digits?: number): string => (Number.isFinite(v) ? fmt(v, digits) : "–");
const status = (ok: boolean): "PASS" | "FAIL" => (ok ? "PASS" : "FAIL");
const CASE_LABEL: Record<InprocCase, string> = {
  ...KIND_LABEL,
  jsonGrown: "for scale: the 4 KiB JSON order with a suffix appended to every value, 4.7 to 4.9 KB as the suffix grows (fresh values only)",
  attack: "for scale: GET with a SQL injection in the query (blocked)",
};

/** Median of the finite values (NaN when there are none: a ratio to a target that completed nothing). */
export function finiteMedian(values: readonly number[]): number {
  const ok = values.filter((v) => Number.isFinite(v));
  return ok.length === 0 ? Number.NaN : median(ok);
}

export const rps = (runs: readonly LoadRun[], t: Target, k: Kind): number[] => runs.map((r) => r[t][k].reqPerSec);
/** Per-run ratio of two targets' req/s; the median of those is the figure. */
export const ratios = (runs: readonly LoadRun[], a: Target, b: Target, k: Kind): number[] => runs.map((r) => (r[b][k].reqPerSec > 0 ? r[a][k].reqPerSec / r[b][k].reqPerSec : Number.NaN));
const p50Us = (res: InprocResult, c: InprocCase): number => median(res.cases[c].p50);
/** The goal's figure: fresh values on every call. */
const freshUs = (res: InprocResult, k: Kind): number => median(res.cases[k].fresh.p50);

export function goalRows(runs: readonly LoadRun[], inproc: InprocResult): Row[] {
  const rows: Row[] = [];
  for (const k of KINDS) {
    const r = finiteMedian(ratios(runs, "waf-on", "modsec", k));
    rows.push({ metric: `${KIND_LABEL[k]}: WAF on ÷ ModSecurity + CRS, req/s`, value: `${num(r, 1)}×`, goal: `≥ ${GOAL_RATIO}×`, status: status(r >= GOAL_RATIO) });
  }
  for (const k of KINDS) {
    const us = freshUs(inproc, k);
    rows.push({ metric: `${KIND_LABEL[k]}: WafEngine.evaluate, fresh values, µs (median)`, value: fmt(us, 1), goal: `< ${GOAL_INSPECT_US} µs`, status: status(us < GOAL_INSPECT_US) });
  }
  for (const k of KINDS) {
    const m = (t: Target) => fmt(median(rps(runs, t, k)));
    rows.push({ metric: `  ${KIND_LABEL[k]}: req/s app / WAF off / WAF on / ModSecurity`, value: `${m("direct")} / ${m("waf-off")} / ${m("waf-on")} / ${m("modsec")}`, status: "info" });
  }
  return rows;
}

export function goalTable(runs: readonly LoadRun[], inproc: InprocResult): string {
  return mdTable(
    ["goal", "request", "target", "median", "result"],
    [
      ...KINDS.map((k) => {
        const r = finiteMedian(ratios(runs, "waf-on", "modsec", k));
        return ["throughput, WAF on ÷ nginx + ModSecurity + CRS", KIND_LABEL[k], `≥ ${GOAL_RATIO}×`, `${num(r, 1)}× (${fmt(median(rps(runs, "waf-on", k)))} ÷ ${fmt(median(rps(runs, "modsec", k)))} req/s)`, `**${status(r >= GOAL_RATIO)}**`];
      }),
      ...KINDS.map((k) => {
        const us = freshUs(inproc, k);
        const f = inproc.cases[k].fresh;
        return ["inspection time in process (`WafEngine.evaluate`), fresh values on every call", KIND_LABEL[k], `median < ${GOAL_INSPECT_US} µs`, `${fmt(us, 1)} µs (p99 ${fmt(median(f.p99), 1)} µs; same request again: ${fmt(p50Us(inproc, k), 1)} µs)`, `**${status(us < GOAL_INSPECT_US)}**`];
      }),
    ],
  );
}

/** Median req/s per target and kind, with the two ratios. */
export function throughputTable(runs: readonly LoadRun[]): string {
  return mdTable(
    ["request", ...TARGETS.map((t) => `${TARGET_LABEL[t]}, req/s`), "WAF on ÷ ModSecurity", "WAF on ÷ WAF off"],
    KINDS.map((k) => [
      KIND_LABEL[k],
      ...TARGETS.map((t) => fmt(median(rps(runs, t, k)))),
      `**${num(finiteMedian(ratios(runs, "waf-on", "modsec", k)), 1)}×**`,
      `${num(finiteMedian(ratios(runs, "waf-on", "waf-off", k)), 2)}×`,
    ]),
  );
}

/** Every run of every target and kind, with latency and the target's CPU. */
export function runsTable(runs: readonly LoadRun[]): string {
  const rows: string[][] = [];
  for (const k of KINDS) {
    for (const t of TARGETS) {
      const s = runs.map((r) => r[t][k]);
      // wrk prints no latency for a slice in which nothing completed: those slices are left out
      const m = (f: (x: (typeof s)[number]) => number) => finiteMedian(s.map(f));
      rows.push([
        KIND_LABEL[k],
        TARGET_LABEL[t],
        fmt(m((x) => x.reqPerSec)),
        fmtRuns(s.map((x) => x.reqPerSec), 0),
        num(m((x) => x.p50Ms), 2),
        num(m((x) => x.p99Ms), 2),
        t === "direct" ? "–" : num(m((x) => x.targetUsPerReq), 0),
        fmt(m((x) => x.targetCores), 2),
        fmt(s.reduce((a, x) => a + x.timeouts, 0), 0),
      ]);
    }
  }
  return mdTable(["request", "target", "req/s (median)", "runs", "p50 ms", "p99 ms", "target CPU µs per request", "target cores", "wrk timeouts (all runs)"], rows);
}

export function inprocTable(res: InprocResult): string {
  return mdTable(
    ["request", "same request again: median µs", "runs (median µs)", "p99 µs (median of runs)", "fresh values: median µs", "runs (median µs)", "p99 µs", "verdict"],
    INPROC_CASES.map((c) => {
      const r = res.cases[c];
      const f = r.fresh.p50.length > 0 ? [fmt(median(r.fresh.p50), 1), fmtRuns(r.fresh.p50, 1), fmt(median(r.fresh.p99), 1)] : ["–", "–", "–"];
      const same = r.p50.length > 0 ? [fmt(p50Us(res, c), 1), fmtRuns(r.p50, 1), fmt(median(r.p99), 1)] : ["–", "–", "–"];
      return [CASE_LABEL[c], ...same, ...f, `${r.action}${r.ruleIds.length > 0 ? ` (rules ${r.ruleIds.join(", ")})` : ", no rule matched"}`];
    }),
  );
}

/** The proxy's added CPU per request for the WAF (on minus off), from the load runs. */
export function wafCpuTable(runs: readonly LoadRun[]): string {
  return mdTable(
    ["request", "proxy CPU µs/request, WAF off", "WAF on", "added by the WAF", "nginx + ModSecurity CPU µs/request", "ModSecurity ÷ WAF off: the best ratio a WAF costing nothing could reach"],
    KINDS.map((k) => {
      const off = finiteMedian(runs.map((r) => r["waf-off"][k].targetUsPerReq));
      const on = finiteMedian(runs.map((r) => r["waf-on"][k].targetUsPerReq));
      const modsec = finiteMedian(runs.map((r) => r.modsec[k].targetUsPerReq));
      return [KIND_LABEL[k], num(off, 0), num(on, 0), num(on - off, 0), num(modsec, 0), `${num(modsec / off, 1)}×`];
    }),
  );
}

/** The parse and the costliest rules per request kind. */
export function costTable(costs: Record<Kind, CostBreakdown>): string {
  return mdTable(
    ["request", "parse only, µs", "costliest rules alone, µs (rule: added µs)"],
    KINDS.map((k) => [KIND_LABEL[k], fmt(costs[k].parseUs, 1), costs[k].top.map((r) => `${r.id}: ${fmt(r.us, 1)}`).join(", ")]),
  );
}
