/**
 * The WAF engine: runs the compiled rules over a parsed request and scores
 * it the way the OWASP CRS does (anomaly scoring). Each matching rule adds
 * its severity's score once; rules up to the blocking paranoia level add to
 * the blocking score, rules above it (up to the detection level) are only
 * reported. The request is blocked when the blocking score reaches the
 * threshold and the mode for its route is "block".
 */
import { chainCount, type CompiledCondition, type CompiledRule } from "./compile.js";
import { Exclusions, type ExclusionSpec, type ModeOverride, type Plan, type WafMode } from "./exclusions.js";
import { TriggerMatcher } from "./prefilter/trigger-matcher.js";
import { parseRequest } from "./request/parse.js";
import { selected, targetLabel, type KeyFilter, type Selector } from "./targets.js";
import { DEFAULT_LIMITS, type Arg, type Collection, type InspectionLimits, type LimitExceeded, type ParsedRequest, type WafInput } from "./types.js";

export interface WafSettings {
  readonly mode: WafMode;
  /** Blocking paranoia level (1-4). */
  readonly paranoia: number;
  /** Rules up to this level run; those above `paranoia` only report. */
  readonly detectionParanoia: number;
  /** Anomaly score at which a request is blocked. */
  readonly threshold: number;
  readonly limits: InspectionLimits;
  /** What happens past a limit: refuse the request, or inspect what fits. */
  readonly onLimit: "reject" | "partial";
  readonly exclusions: readonly ExclusionSpec[];
  readonly overrides: readonly ModeOverride[];
}

export const DEFAULT_SETTINGS: WafSettings = {
  mode: "block",
  paranoia: 1,
  detectionParanoia: 1,
  threshold: 5,
  limits: DEFAULT_LIMITS,
  onLimit: "reject",
  exclusions: [],
  overrides: [],
};

export interface WafMatch {
  readonly id: number;
  readonly msg: string;
  readonly severity: string;
  readonly paranoia: number;
  readonly score: number;
  readonly tags: readonly string[];
  /** Where it matched: "args:q", "headers:user-agent", "count:args". */
  readonly target: string;
  /** The matched text, truncated (redacted when the target's name looks secret). */
  readonly match: string;
  /** False for a rule above the blocking paranoia level (reported only). */
  readonly blocking: boolean;
}

export interface WafVerdict {
  readonly mode: WafMode;
  /** block: refused (score or limit); detect: would have been refused in block mode; pass: allowed. */
  readonly action: "block" | "detect" | "pass";
  /** Set when a limit decided the verdict (onLimit "reject"). */
  readonly limit?: LimitExceeded;
  readonly score: number;
  readonly detectionScore: number;
  readonly threshold: number;
  readonly matches: readonly WafMatch[];
  readonly exceeded: readonly LimitExceeded[];
}

export interface RequestContext {
  readonly route: string;
  /** Normalised path, for path-prefix exclusions and overrides. */
  readonly path: string;
}

const MATCH_CHARS = 64;
const SECRET_NAME = /pass|secret|token|auth|session|cookie|key|sig|credential/i;
const NO_EXCLUDES: readonly KeyFilter[] = [];

/** A value after one transformation chain. */
interface Entry {
  readonly v: string;
}

/** Per-request memo of transformed values: one map per transformation chain. */
type TransformCache = (Map<string, Entry> | undefined)[];

/** The literals of every rule head condition using one transformation chain, as one automaton. */
interface Prefilter {
  readonly matcher: TriggerMatcher;
  /** A condition of the group (for its transformations and chain id). */
  readonly proto: CompiledCondition;
  /** Scratch for TriggerMatcher.slotsIn. */
  readonly seen: Uint8Array;
}

/** One collection scanned for one prefilter: transformed values and, per slot, the indices of the values holding its literals. */
interface GroupScan {
  readonly values: readonly string[];
  readonly bySlot: ReadonlyMap<number, readonly number[]>;
}

/** Per-request scans, by prefilter and collection. */
type ScanCache = Map<Prefilter, Map<Collection, GroupScan>>;

/** Where a rule's head condition sits in its chain's prefilter. */
interface Gate {
  readonly slot: number;
  readonly pf: Prefilter;
}

/** One rule of a plan, ready to run. */
interface Step {
  readonly rule: CompiledRule;
  readonly excl: readonly KeyFilter[];
  readonly gate: Gate | undefined;
}

export class WafEngine {
  private readonly plans: Exclusions;
  readonly rules: readonly CompiledRule[];
  private readonly gates = new Map<number, Gate>();
  /** Plans are few and cached by Exclusions; their steps are kept beside them. */
  private readonly steps = new WeakMap<Plan, readonly Step[]>();

  constructor(
    rules: readonly CompiledRule[],
    readonly settings: WafSettings = DEFAULT_SETTINGS,
  ) {
    if (settings.detectionParanoia < settings.paranoia) throw new Error("detection paranoia level must be at least the blocking level");
    const order = (r: CompiledRule): number => (r.phase === "headers" ? 0 : 1);
    this.rules = rules.filter((r) => r.paranoia <= settings.detectionParanoia).sort((a, b) => order(a) - order(b));
    this.plans = new Exclusions(this.rules, settings.exclusions, settings.overrides, settings.mode);
    this.buildPrefilters();
  }

  /** Groups rule heads with literals by transformation chain; each group gets one automaton. */
  private buildPrefilters(): void {
    const byChain = new Map<number, CompiledRule[]>();
    for (const r of this.rules) {
      if (r.literals === undefined) continue;
      byChain.set(r.chainId, [...(byChain.get(r.chainId) ?? []), r]);
    }
    for (const group of byChain.values()) {
      const pf: Prefilter = { matcher: new TriggerMatcher(group.map((r) => r.literals!)), proto: group[0]!, seen: new Uint8Array(group.length) };
      group.forEach((r, slot) => this.gates.set(r.id, { slot, pf }));
    }
  }

  /** The mode for a request (route and path overrides applied). */
  modeFor(ctx: RequestContext): WafMode {
    return this.plans.planFor(ctx.route, ctx.path).mode;
  }

  evaluate(input: WafInput, ctx: RequestContext): WafVerdict {
    return this.inspect(ctx, () => input);
  }

  /** Like evaluate, but the input is only built when the route's mode is not off. */
  inspect(ctx: RequestContext, input: () => WafInput): WafVerdict {
    const plan = this.plans.planFor(ctx.route, ctx.path);
    if (plan.mode === "off") return verdict(plan.mode, "pass", 0, 0, this.settings.threshold, [], []);
    return this.evaluateParsed(parseRequest(input(), this.settings.limits), plan);
  }

  /** Runs a plan over an already parsed request. */
  evaluateParsed(req: ParsedRequest, plan: Plan): WafVerdict {
    const s = this.settings;
    if (req.exceeded.length > 0 && s.onLimit === "reject") {
      const action = plan.mode === "block" ? "block" : "detect";
      return { ...verdict(plan.mode, action, 0, 0, s.threshold, [], req.exceeded), limit: req.exceeded[0] };
    }
    const cache: TransformCache = new Array<Map<string, Entry> | undefined>(chainCount());
    const scans: ScanCache = new Map();
    let score = 0;
    let detectionScore = 0;
    let matches: WafMatch[] | undefined;
    const steps = this.stepsOf(plan);
    for (let i = 0; i < steps.length; i++) {
      const { rule: r, excl, gate } = steps[i]!;
      const hit = gate === undefined ? runCondition(r, req, excl, cache) : runGated(r, req, excl, cache, gate, scans);
      if (hit === undefined) continue;
      let chained = true;
      for (let c = 0; c < r.chain.length && chained; c++) chained = runCondition(r.chain[c]!, req, excl, cache) !== undefined;
      if (!chained) continue;
      const blocking = r.paranoia <= s.paranoia;
      if (blocking) score += r.score;
      detectionScore += r.score;
      (matches ??= []).push({
        id: r.id,
        msg: r.msg,
        severity: r.severity,
        paranoia: r.paranoia,
        score: r.score,
        tags: r.tags,
        target: hit.target,
        match: SECRET_NAME.test(hit.target) && !r.tags.includes("attack-protocol") ? "[REDACTED]" : truncate(hit.match),
        blocking,
      });
    }
    const over = score >= s.threshold;
    const action = !over ? "pass" : plan.mode === "block" ? "block" : "detect";
    return verdict(plan.mode, action, score, detectionScore, s.threshold, matches ?? [], req.exceeded);
  }

  /** A plan's rules with their exclusions and prefilter gates looked up once, not on every request. */
  private stepsOf(plan: Plan): readonly Step[] {
    let steps = this.steps.get(plan);
    if (steps === undefined) {
      steps = plan.rules.map((rule) => ({ rule, excl: plan.excludes.get(rule.id) ?? NO_EXCLUDES, gate: this.gates.get(rule.id) }));
      this.steps.set(plan, steps);
    }
    return steps;
  }

  planFor(ctx: RequestContext): Plan {
    return this.plans.planFor(ctx.route, ctx.path);
  }
}

function verdict(
  mode: WafMode,
  action: WafVerdict["action"],
  score: number,
  detectionScore: number,
  threshold: number,
  matches: readonly WafMatch[],
  exceeded: readonly LimitExceeded[],
): WafVerdict {
  return { mode, action, score, detectionScore, threshold, matches, exceeded };
}

function truncate(s: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is escaped here
  const printable = s.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
  return printable.length > MATCH_CHARS ? `${printable.slice(0, MATCH_CHARS)}…` : printable;
}

interface Hit {
  readonly target: string;
  readonly match: string;
}

const NO_ARGS: readonly Arg[] = [];

/** The first value one selector picks that the condition matches (a count selector yields one value: how many it picks). */
function runSelector(c: CompiledCondition, sel: Selector, req: ParsedRequest, excludes: readonly KeyFilter[], cache: TransformCache): Hit | undefined {
  const args = req.collections.get(sel.collection) ?? NO_ARGS;
  if (sel.count) {
    let n = 0;
    for (let i = 0; i < args.length; i++) if (selected(sel, excludes, args[i]!)) n++;
    const m = test(c, String(n), cache);
    return m === undefined ? undefined : { target: targetLabel(sel.collection, undefined, true), match: m };
  }
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!selected(sel, excludes, a)) continue;
    const m = test(c, a.value, cache);
    if (m !== undefined) return { target: targetLabel(sel.collection, a, false), match: m };
  }
  return undefined;
}

const withExtra = (c: CompiledCondition, extra: readonly KeyFilter[]): readonly KeyFilter[] => (extra.length === 0 ? c.targets.exclude : [...c.targets.exclude, ...extra]);

/** The first value of the condition's targets that its operator matches (or, negated, does not). */
function runCondition(c: CompiledCondition, req: ParsedRequest, extraExcludes: readonly KeyFilter[], cache: TransformCache): Hit | undefined {
  const excludes = withExtra(c, extraExcludes);
  const sels = c.targets.include;
  for (let s = 0; s < sels.length; s++) {
    const hit = runSelector(c, sels[s]!, req, excludes, cache);
    if (hit !== undefined) return hit;
  }
  return undefined;
}

/**
 * A prefiltered condition: each collection it targets is scanned once per
 * request for all the literals of its transformation chain's rules, and
 * only the values holding one of this rule's literals reach its operator.
 */
function runGated(c: CompiledCondition, req: ParsedRequest, extraExcludes: readonly KeyFilter[], cache: TransformCache, gate: Gate, scans: ScanCache): Hit | undefined {
  const excludes = withExtra(c, extraExcludes);
  const sels = c.targets.include;
  for (let s = 0; s < sels.length; s++) {
    const sel = sels[s]!;
    if (sel.count) {
      const h = runSelector(c, sel, req, excludes, cache);
      if (h !== undefined) return h;
      continue;
    }
    const args = req.collections.get(sel.collection);
    if (args === undefined || args.length === 0) continue;
    const gs = scanOf(gate.pf, sel.collection, args, cache, scans);
    const idxs = gs.bySlot.get(gate.slot);
    if (idxs === undefined) continue;
    for (let k = 0; k < idxs.length; k++) {
      const a = args[idxs[k]!]!;
      if (!selected(sel, excludes, a)) continue;
      const m = c.op(gs.values[idxs[k]!]!);
      if (m !== undefined) return { target: targetLabel(sel.collection, a, false), match: m };
    }
  }
  return undefined;
}

function scanOf(pf: Prefilter, col: Collection, args: readonly Arg[], cache: TransformCache, scans: ScanCache): GroupScan {
  let byCol = scans.get(pf);
  if (byCol === undefined) scans.set(pf, (byCol = new Map()));
  let gs = byCol.get(col);
  if (gs !== undefined) return gs;
  const values: string[] = new Array<string>(args.length);
  const bySlot = new Map<number, number[]>();
  const found: number[] = [];
  for (let i = 0; i < args.length; i++) {
    const v = pf.proto.transforms.length === 0 ? args[i]!.value : entryOf(pf.proto, args[i]!.value, cache).v;
    values[i] = v;
    found.length = 0;
    pf.matcher.slotsIn(v, found, pf.seen);
    for (let k = 0; k < found.length; k++) {
      const list = bySlot.get(found[k]!);
      if (list === undefined) bySlot.set(found[k]!, [i]);
      else list.push(i);
    }
  }
  gs = { values, bySlot };
  byCol.set(col, gs);
  return gs;
}

function entryOf(c: CompiledCondition, value: string, cache: TransformCache): Entry {
  let memo = cache[c.chainId];
  if (memo === undefined) cache[c.chainId] = memo = new Map();
  let e = memo.get(value);
  if (e === undefined) {
    let v = value;
    const ts = c.transforms;
    for (let i = 0; i < ts.length; i++) v = ts[i]!(v);
    e = { v };
    memo.set(value, e);
  }
  return e;
}

/** The condition's operator on one value (multi_match: also before and between transformations). */
function test(c: CompiledCondition, value: string, cache: TransformCache): string | undefined {
  if (c.multiMatch) return testMulti(c, value);
  const m = c.op(c.transforms.length === 0 ? value : entryOf(c, value, cache).v);
  if (c.negate) return m === undefined ? value : undefined;
  return m;
}

/** multi_match: the operator runs on the raw value and after every transformation step. */
function testMulti(c: CompiledCondition, value: string): string | undefined {
  let v = value;
  let m = c.op(v);
  for (let i = 0; i < c.transforms.length && m === undefined; i++) {
    const next = c.transforms[i]!(v);
    if (next === v) continue;
    v = next;
    m = c.op(v);
  }
  if (c.negate) return m === undefined ? value : undefined;
  return m;
}
