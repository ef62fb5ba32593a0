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
import { GateSet } from "./gate-set.js";
import { Inspection } from "./inspection.js";
import { parseRequest, type Derived } from "./request/parse.js";
import { runCondition, runGated } from "./run-condition.js";
import { buildScreen, couldMatch, type Screen } from "./step-screen.js";
import type { KeyFilter } from "./targets.js";
import { COLLECTIONS, DEFAULT_LIMITS, type InspectionLimits, type LimitExceeded, type ParsedRequest, type WafInput } from "./types.js";

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
    this.gates = new GateSet(gated, remember, gated.map((r) => this.condOf.get(r)!));
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
        screen: buildScreen(
          steps.map((x) => [
            { cond: x.rule, memo: x.cond, excluded: x.headExcl.length > 0 },
            ...x.rule.chain.map((c, k) => ({ cond: c, memo: x.chainConds[k]!, excluded: x.chainExcl[k]!.length > 0 })),
          ]),
        ),
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

/** A condition's own exclusions with the plan's for its rule (merged when the plan's steps are built, not per request). */
const withExtra = (c: CompiledCondition, extra: readonly KeyFilter[]): readonly KeyFilter[] => (extra.length === 0 ? c.targets.exclude : [...c.targets.exclude, ...extra]);
