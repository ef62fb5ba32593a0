/**
 * The WAF engine: runs the compiled rules over a parsed request and scores
 * it the way the OWASP CRS does (anomaly scoring). Each matching rule adds
 * its severity's score once; rules up to the blocking paranoia level add to
 * the blocking score, rules above it (up to the detection level) are only
 * reported. The request is blocked when the blocking score reaches the
 * threshold and the mode for its route is "block".
 */
import type { CompiledCondition, CompiledRule } from "./compile.js";
import { Exclusions, type ExclusionSpec, type ModeOverride, type Plan, type WafMode } from "./exclusions.js";
import { GateSet, Inspection } from "./inspection.js";
import { featuresOfKnown, isClean, markClean, type Known } from "./value-memo.js";
import { parseRequest, type Derived } from "./request/parse.js";
import { allClean, buildScreen, couldMatch, type Screen } from "./step-screen.js";
import { selected, targetLabel, type KeyFilter, type Selector } from "./targets.js";
import { COLLECTION_INDEX, COLLECTIONS, DEFAULT_LIMITS, type Arg, type InspectionLimits, type LimitExceeded, type ParsedRequest, type WafInput } from "./types.js";

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

/** One rule of a plan, ready to run. */
interface Step {
  readonly rule: CompiledRule;
  /** Exclusions of the head and of each chained condition: its own plus the plan's for this rule, merged once. */
  readonly headExcl: readonly KeyFilter[];
  readonly chainExcl: readonly (readonly KeyFilter[])[];
  /** Index of the rule's head in the engine's GateSet, or -1 when it has no literals. */
  readonly gate: number;
  /** Bits (1 << COLLECTION_INDEX) of the collections the head inspects; all bits when it counts (a count of nothing can match). */
  readonly needs: number;
  /** Numbers of the head and chained conditions for Inspection.isClean. */
  readonly cond: number;
  readonly chainConds: readonly number[];
}

/** The decimal text of small counts, made once (a count selector runs on most requests). */
const COUNT_TEXT = Array.from({ length: 64 }, (_, i) => String(i));
const countText = (n: number): string => (n < COUNT_TEXT.length ? COUNT_TEXT[n]! : String(n));

function needsMask(c: CompiledCondition): number {
  let m = 0;
  for (const sel of c.targets.include) m |= sel.count ? -1 : 1 << sel.index;
  return m;
}

/** Bits of the collections that hold at least one value in this request. */
function presentMask(req: ParsedRequest): number {
  let m = 0;
  const cols = req.collections;
  for (let n = 0; n < COLLECTIONS.length; n++) if ((cols.at(n)?.length ?? 0) > 0) m |= 1 << n;
  return m;
}

/** A plan's steps, with the two fields the loop filters on also in flat arrays (they stay in cache between requests). */
interface StepTable {
  readonly steps: readonly Step[];
  readonly needs: Int32Array;
  readonly gates: Int32Array;
  /** What decides, before a step is touched, whether its head could match (step-screen.ts). */
  readonly screen: Screen;
}

export class WafEngine {
  private readonly plans: Exclusions;
  readonly rules: readonly CompiledRule[];
  /** Gate index by rule id (rules whose head has literals). */
  private readonly gateOf = new Map<number, number>();
  private readonly gates: GateSet;
  /** Plans are few and cached by Exclusions; their steps are kept beside them. */
  private readonly steps = new WeakMap<Plan, StepTable>();

  /** Number of each condition, for the clean bits of the values it does not match. */
  private readonly condOf = new Map<CompiledCondition, number>();
  /** The derived collections some active rule targets (the parser makes no others). */
  private readonly derived: Derived;

  /** remember: keep what is learnt about values across requests (value-memo.ts); off only to time cold requests. */
  constructor(
    rules: readonly CompiledRule[],
    readonly settings: WafSettings = DEFAULT_SETTINGS,
    remember = true,
  ) {
    if (settings.detectionParanoia < settings.paranoia) throw new Error("detection paranoia level must be at least the blocking level");
    const order = (r: CompiledRule): number => (r.phase === "headers" ? 0 : 1);
    this.rules = rules.filter((r) => r.paranoia <= settings.detectionParanoia).sort((a, b) => order(a) - order(b));
    this.plans = new Exclusions(this.rules, settings.exclusions, settings.overrides, settings.mode);
    const gated = this.rules.filter((r) => r.literals !== undefined);
    gated.forEach((r, i) => this.gateOf.set(r.id, i));
    const all = this.rules.flatMap((r) => [r, ...r.chain]);
    // Every condition's result on a value depends on nothing but the value (operators are functions of one
    // string, negation and multi_match included), so each gets a clean bit. Ungated heads first: they run on
    // every value, so their clean bits sit in a value's first word.
    for (const c of [...all.filter((c) => c.literals === undefined), ...all.filter((c) => c.literals !== undefined)]) this.condOf.set(c, this.condOf.size);
    this.gates = new GateSet(gated, remember);
    this.derived = { urlSites: all.some((c) => c.targets.include.some((sel) => sel.collection === "args_url_site")) };
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
    return this.evaluateParsed(parseRequest(input(), this.settings.limits, this.derived), plan);
  }

  /** Runs a plan over an already parsed request. */
  evaluateParsed(req: ParsedRequest, plan: Plan): WafVerdict {
    const s = this.settings;
    if (req.exceeded.length > 0 && s.onLimit === "reject") {
      const action = plan.mode === "block" ? "block" : "detect";
      return { ...verdict(plan.mode, action, 0, 0, s.threshold, [], req.exceeded), limit: req.exceeded[0] };
    }
    const insp = new Inspection(req, this.gates);
    let score = 0;
    let detectionScore = 0;
    let matches: WafMatch[] | undefined;
    const { steps, needs, gates, screen } = this.stepsOf(plan);
    const present = presentMask(req);
    insp.gateHits();
    for (let i = 0; i < steps.length; i++) {
      // a head whose collections are all empty in this request cannot match, nor can a gated head whose
      // literals occur in no value (a count of nothing is the exception: needs is then -1); both are
      // decided from two flat arrays, without touching the rule
      const need = needs[i]!;
      if ((need & present) === 0) continue;
      const gate = gates[i]!;
      if (gate >= 0 && need !== -1 && !insp.hit(gate)) continue;
      if (!couldMatch(screen, i, insp, present)) continue;
      const { rule: r, headExcl, chainExcl, cond, chainConds } = steps[i]!;
      const hit = gate < 0 ? runCondition(r, cond, insp, headExcl, screen) : runGated(r, cond, insp, headExcl, gate, screen);
      if (hit === undefined) continue;
      let chained = true;
      for (let c = 0; c < r.chain.length && chained; c++) chained = runCondition(r.chain[c]!, chainConds[c]!, insp, chainExcl[c]!, screen) !== undefined;
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
  private stepsOf(plan: Plan): StepTable {
    let table = this.steps.get(plan);
    if (table === undefined) {
      const steps = plan.rules.map((rule) => {
        const excl = plan.excludes.get(rule.id) ?? NO_EXCLUDES;
        return {
          rule,
          headExcl: withExtra(rule, excl),
          chainExcl: rule.chain.map((c) => withExtra(c, excl)),
          gate: this.gateOf.get(rule.id) ?? -1,
          cond: this.condOf.get(rule) ?? -1,
          needs: needsMask(rule),
          chainConds: rule.chain.map((c) => this.condOf.get(c) ?? -1),
        };
      });
      table = {
        steps,
        needs: Int32Array.from(steps, (x) => x.needs),
        gates: Int32Array.from(steps, (x) => x.gate),
        screen: buildScreen(steps.map((x) => ({ cond: x.rule, memo: x.cond }))),
      };
      this.steps.set(plan, table);
    }
    return table;
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
function runSelector(c: CompiledCondition, cond: number, sel: Selector, insp: Inspection, excludes: readonly KeyFilter[], screen: Screen): Hit | undefined {
  const args = insp.req.collections.at(sel.index) ?? NO_ARGS;
  if (sel.count) {
    let n = 0;
    for (let i = 0; i < args.length; i++) if (selected(sel, excludes, args[i]!)) n++;
    const m = test(c, -1, insp.state(countText(n)), insp);
    return m === undefined ? undefined : { target: targetLabel(sel.collection, undefined, true), match: m };
  }
  const states = insp.column(sel.index, args);
  if (cond >= 0 && allClean(screen, sel.index, cond, states, insp.epoch)) return undefined;
  // the values of a names collection are names, which come back request after request: one that is not
  // selected is still tested once, so that its clean bit passes over it from then on (a name pattern
  // exclusion, tested on every request, cost more than the operator it saved)
  const testFirst = cond >= 0 && (NAME_COLLECTIONS & (1 << sel.index)) !== 0;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    // a value known not to match is passed over before the (dearer) name checks: names and values repeat
    if (knownClean(states[i]!, cond)) continue;
    if (testFirst) {
      const m = test(c, cond, states[i]!, insp);
      if (m !== undefined && selected(sel, excludes, a)) return { target: targetLabel(sel.collection, a, false), match: m };
      continue;
    }
    if (!selected(sel, excludes, a)) continue;
    const m = test(c, cond, states[i]!, insp);
    if (m !== undefined) return { target: targetLabel(sel.collection, a, false), match: m };
  }
  return undefined;
}

/** Bits (1 << collection number) of the collections whose values are names. */
const NAME_COLLECTIONS = (["query_args_names", "body_args_names", "args_names", "headers_names", "cookies_names", "files_names"] as const).reduce((m, c) => m | (1 << COLLECTION_INDEX.get(c)!), 0);

/** A condition's own exclusions with the plan's for its rule (merged when the plan's steps are built, not per request). */
const withExtra = (c: CompiledCondition, extra: readonly KeyFilter[]): readonly KeyFilter[] => (extra.length === 0 ? c.targets.exclude : [...c.targets.exclude, ...extra]);

/** The first value of the condition's targets that its operator matches (or, negated, does not); excludes: see withExtra. */
function runCondition(c: CompiledCondition, cond: number, insp: Inspection, excludes: readonly KeyFilter[], screen: Screen): Hit | undefined {
  const sels = c.targets.include;
  for (let s = 0; s < sels.length; s++) {
    const hit = runSelector(c, cond, sels[s]!, insp, excludes, screen);
    if (hit !== undefined) return hit;
  }
  return undefined;
}

/**
 * A prefiltered condition: only the values that trigger its gate (hold one
 * of its literals after its transformations) reach its operator.
 */
function runGated(c: CompiledCondition, cond: number, insp: Inspection, excludes: readonly KeyFilter[], gate: number, screen: Screen): Hit | undefined {
  const sels = c.targets.include;
  for (let s = 0; s < sels.length; s++) {
    const sel = sels[s]!;
    if (sel.count) {
      const h = runSelector(c, cond, sel, insp, excludes, screen);
      if (h !== undefined) return h;
      continue;
    }
    const args = insp.req.collections.at(sel.index);
    const set = insp.setOf(sel.index);
    if (args === undefined || args.length === 0 || set < 0) continue;
    const states = insp.column(sel.index, args);
    const idxs = insp.triggering(sel.index, args, gate);
    if (idxs === undefined) {
      // a small collection: its values are looked through (no index, nothing allocated)
      for (let i = 0; i < states.length; i++) {
        const st = states[i]!;
        if (knownClean(st, cond)) continue;
        if (!insp.triggers(st, set, gate)) {
          // holding none of the condition's literals, the value cannot match it: remembered, the screen passes over it next time
          if (cond >= 0 && st.kept === true) markClean(st, cond);
          continue;
        }
        if (!selected(sel, excludes, args[i]!)) continue;
        const m = test(c, cond, states[i]!, insp);
        if (m !== undefined) return { target: targetLabel(sel.collection, args[i]!, false), match: m };
      }
      continue;
    }
    for (let k = 0; k < idxs.length; k++) {
      const a = args[idxs[k]!]!;
      if (knownClean(states[idxs[k]!]!, cond) || !selected(sel, excludes, a)) continue;
      const m = test(c, cond, states[idxs[k]!]!, insp);
      if (m !== undefined) return { target: targetLabel(sel.collection, a, false), match: m };
    }
  }
  return undefined;
}

/** Whether condition number `cond` (-1: a count, never remembered) is known not to match the value. */
function knownClean(st: Known, cond: number): boolean {
  return cond >= 0 && isClean(st, cond);
}

/** The condition's operator on one value (multi_match: also before and between transformations). */
function test(c: CompiledCondition, cond: number, st: Known, insp: Inspection): string | undefined {
  let m: string | undefined;
  if (c.multiMatch) m = testMulti(c, st.value);
  else {
    const input = insp.transformed(c, st);
    // an operator that needs some syntax (opNeeds) is not called on a value without it; the record's features
    // answer for the value and for its lowered copy (lowering adds none of those features)
    m = c.opNeeds !== 0 && (input === st.value || input === st.lower) && (featuresOfKnown(st) & c.opNeeds) === 0 ? undefined : c.op(input);
    if (c.negate) m = m === undefined ? st.value : undefined;
  }
  // the callers have passed over values known clean (knownClean), before their name checks; a count (cond -1) is not
  // remembered, nor a miss on a value no later request will look up (the condition does not run again in this one)
  if (m === undefined && cond >= 0 && st.kept === true) markClean(st, cond);
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
