/**
 * waf-speed in process: µs per `WafEngine.evaluate` on each of the four
 * requests (as the proxy's waf filter hands them over), with the rule
 * snapshot at paranoia 1 in blocking mode. Each call is timed on its own
 * (process.hrtime.bigint), so the median and p99 are of single inspections;
 * a case stops at a call count or a time limit, whichever comes first.
 * The kinds take turns within a run, so a drift in the machine's load
 * weighs on all of them alike. An obvious attack is timed too, for scale.
 *
 * Two figures per request: the same request again and again (every value
 * already known to the engine's memory of values, value-memo.ts), and the
 * request with fresh values on every call (headers and names repeat, query,
 * form and JSON values never do), which is what a busy proxy sees and what
 * the goal is judged on.
 */
import { performance } from "node:perf_hooks";
import type { CompiledRule } from "../proxy/waf/compile.js";
import type { WafInput } from "../proxy/waf/types.js";
import { median, percentile } from "./lib/stats.js";
import { blockingEngine } from "./waf-corpus-inproc.js";
import { ATTACK_PATH, freshInput, grownJsonInput, KINDS, wafInput, type Kind } from "./waf-speed-requests.js";

/** The four kinds; for scale, the JSON order grown by its fresh suffixes (fresh values only) and an attack (same request only). */
export type InprocCase = Kind | "jsonGrown" | "attack";
export const INPROC_CASES: readonly InprocCase[] = [...KINDS, "jsonGrown", "attack"];

export interface InprocPlan {
  runs: number;
  /** Timed calls per case per run… */
  calls: number;
  /** …or fewer when they take longer than this (ms per case per run). */
  maxMs: number;
  /** Warm-up rounds over every case, at most warmupMs long. */
  warmupCalls: number;
  warmupMs: number;
}

export interface Timings {
  /** Per run: median and p99 µs of the timed calls, and how many calls were timed. */
  p50: number[];
  p99: number[];
  calls: number[];
}

export interface InprocCaseResult extends Timings {
  /** The same request with fresh values on every call (none for the attack; only these for jsonGrown). */
  fresh: Timings;
  /** The verdict on this request: action and matched rule ids. */
  action: string;
  ruleIds: number[];
}

export interface InprocResult {
  cases: Record<InprocCase, InprocCaseResult>;
  activeRules: number;
  /** Set when the benchmark's deadline cut the runs short. */
  truncated: boolean;
}

export function runInproc(rules: readonly CompiledRule[], plan: InprocPlan, deadline: number): InprocResult {
  const engine = blockingEngine(rules, 1);
  const inputs: Record<InprocCase, WafInput> = {
    get: wafInput("get"),
    query: wafInput("query"),
    form: wafInput("form"),
    json: wafInput("json"),
    jsonGrown: grownJsonInput(0),
    attack: wafInput("query", ATTACK_PATH),
  };
  // the same request again: every case but jsonGrown (its body is the json case's with suffixes); fresh values: every case but the attack
  const again = (c: InprocCase): boolean => c !== "jsonGrown";
  const fresh: Partial<Record<InprocCase, (n: number) => WafInput>> = {
    ...Object.fromEntries(KINDS.map((k) => [k, (n: number) => freshInput(k, n)])),
    jsonGrown: grownJsonInput,
  };
  const ctxs = Object.fromEntries(INPROC_CASES.map((c) => [c, { route: "all", path: inputs[c].uri.split("?")[0]! }])) as Record<InprocCase, { route: string; path: string }>;
  const cases = {} as Record<InprocCase, InprocCaseResult>;
  for (const c of INPROC_CASES) {
    const v = engine.evaluate(inputs[c], ctxs[c]);
    cases[c] = { p50: [], p99: [], calls: [], fresh: { p50: [], p99: [], calls: [] }, action: v.action, ruleIds: v.matches.map((m) => m.id) };
  }
  const warmEnd = performance.now() + plan.warmupMs;
  for (let i = 0; i < plan.warmupCalls && performance.now() < warmEnd; i++) for (const c of INPROC_CASES) engine.evaluate(inputs[c], ctxs[c]);
  let truncated = false;
  const samples = new Float64Array(plan.calls);
  let serial = 0;
  const time = (into: Timings, next: () => WafInput, ctx: { route: string; path: string }): void => {
    const stopAt = process.hrtime.bigint() + BigInt(plan.maxMs) * 1_000_000n;
    let n = 0;
    while (n < plan.calls) {
      const input = next();
      const t0 = process.hrtime.bigint();
      engine.evaluate(input, ctx);
      const t1 = process.hrtime.bigint();
      samples[n++] = Number(t1 - t0) / 1000;
      if (t1 > stopAt) break;
    }
    const s = samples.subarray(0, n);
    into.p50.push(median(Array.from(s)));
    into.p99.push(percentile(s, 99));
    into.calls.push(n);
  };
  for (let r = 0; r < plan.runs && !truncated; r++) {
    // rotate the order of the cases from run to run
    for (let k = 0; k < INPROC_CASES.length; k++) {
      const c = INPROC_CASES[(k + r) % INPROC_CASES.length]!;
      if (again(c)) time(cases[c], () => inputs[c], ctxs[c]);
      const next = fresh[c];
      if (next !== undefined) time(cases[c].fresh, () => next(serial++), ctxs[c]);
      if (Date.now() > deadline) truncated = true;
    }
  }
  return { cases, activeRules: engine.rules.length, truncated };
}

export interface RuleCost {
  id: number;
  /** Median µs of an engine holding only this rule, minus the parse-only baseline. */
  us: number;
}

export interface CostBreakdown {
  /** Median µs of an engine with no rules: parsing the request into collections. */
  parseUs: number;
  /** The costliest rules, most expensive first. */
  top: RuleCost[];
}

/** Median µs of up to `calls` evaluations, stopping after `maxMs`. */
function medianUs(engine: ReturnType<typeof blockingEngine>, input: WafInput, calls: number, maxMs: number): number {
  const ctx = { route: "all", path: input.uri.split("?")[0]! };
  engine.evaluate(input, ctx);
  const stopAt = performance.now() + maxMs;
  const t: number[] = [];
  while (t.length < calls) {
    const t0 = process.hrtime.bigint();
    engine.evaluate(input, ctx);
    t.push(Number(process.hrtime.bigint() - t0) / 1000);
    if (performance.now() > stopAt) break;
  }
  return median(t);
}

/**
 * Where the inspection time goes, per request kind: the parse alone (an
 * engine with no rules) and each paranoia-1 rule alone (an engine holding
 * just that rule, less the parse). Rough (few calls each), but it names the
 * rules worth a look when a request is slow.
 */
export function ruleCosts(rules: readonly CompiledRule[], top: number, deadline: number): Record<Kind, CostBreakdown> {
  const pl1 = rules.filter((r) => r.paranoia <= 1);
  const out = {} as Record<Kind, CostBreakdown>;
  for (const k of KINDS) {
    const input = wafInput(k);
    const parseUs = medianUs(blockingEngine([], 1), input, 200, 100);
    const costs: RuleCost[] = [];
    for (const r of pl1) {
      if (Date.now() > deadline) break;
      costs.push({ id: r.id, us: medianUs(blockingEngine([r], 1), input, 30, 60) - parseUs });
    }
    out[k] = { parseUs, top: costs.sort((a, b) => b.us - a.us).slice(0, top) };
  }
  return out;
}
