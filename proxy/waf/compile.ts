/**
 * Turns a validated rule spec into the form the engine runs: targets
 * parsed, transformation names resolved to functions (with an id per
 * distinct chain, so a request transforms each value once per chain), the
 * operator compiled.
 */
import { compileOperator, OPERATOR_CANNOT_MATCH, OPERATOR_NEEDS, type Operator, type OperatorKey } from "./operators.js";
import { requiredLiterals } from "./prefilter/literals.js";
import { RuleCompileError } from "./errors.js";
import { operatorOf, SEVERITY_SCORES, type ConditionSpec, type RuleSpec, type Severity } from "./rule-spec.js";
import { parseTargets, type TargetSet } from "./targets.js";
import { F_UPPER } from "./prefilter/features.js";
import { CHANGES_ON, isTransformName, TRANSFORMS, type TransformName } from "./transforms.js";
import { BODY_COLLECTIONS, type Transform } from "./types.js";

export interface CompiledCondition {
  readonly targets: TargetSet;
  readonly transforms: readonly Transform[];
  /** Same id = same transformation chain (cache key). */
  readonly chainId: number;
  /** The value features (prefilter/features.ts) any of the transformations changes a value on: without them the chain is the identity. */
  readonly changesOn: number;
  /** By step: the features that transformation changes a value on (a step the value has none of is passed over). */
  readonly stepChangesOn: Int32Array;
  /**
   * The chain lowers case and no other step reacts to capitals: on a value whose only feature the chain
   * reacts to is F_UPPER, every chain with this flag gives the same result, lowercase(value), made once.
   */
  readonly lowersOnly: boolean;
  readonly multiMatch: boolean;
  readonly negate: boolean;
  readonly op: Operator;
  /** Features one of which the operator's input must have to match (OPERATOR_NEEDS; 0: no such condition). */
  readonly opNeeds: number;
  /**
   * Features one of which a value must have for the condition to match it: the operator's needs, or one the
   * chain changes a value on beyond ASCII case (0: any value may match, as with a negated condition).
   */
  readonly reach: number;
  /** OPERATOR_CANNOT_MATCH of the operator, when it has one and the condition is not negated. */
  readonly cannotMatch: ((value: string) => boolean) | undefined;
  /** Operator name and argument, for listings ("rx", "sqli" ...). */
  readonly opName: string;
  /** Strings one of which every matching value contains (case-insensitive): the engine's prefilter. */
  readonly literals?: readonly string[];
  /** With a count target: what the condition gives a count of n (below COUNT_TABLE), worked out at load. */
  readonly countMatches: readonly (string | undefined)[] | undefined;
}

/** Counts below this are answered from a condition's countMatches instead of running it. */
export const COUNT_TABLE = 64;

export interface CompiledRule extends CompiledCondition {
  readonly id: number;
  readonly msg: string;
  readonly phase: "headers" | "body";
  readonly paranoia: number;
  readonly severity: Severity;
  readonly score: number;
  readonly tags: readonly string[];
  readonly chain: readonly CompiledCondition[];
  /** "file:line" of the rule. */
  readonly location: string;
}

const chainIds = new Map<string, number>();

/** A stable small integer per distinct transformation chain (process-wide). */
export function chainIdOf(names: readonly string[]): number {
  const key = names.join(",");
  let id = chainIds.get(key);
  if (id === undefined) {
    id = chainIds.size;
    chainIds.set(key, id);
  }
  return id;
}

/** How many distinct chains exist (size of the per-request cache table). */
export function chainCount(): number {
  return chainIds.size;
}

function compileCondition(c: ConditionSpec, path: readonly (string | number)[], phase: "headers" | "body"): CompiledCondition {
  let targets: TargetSet;
  try {
    targets = parseTargets(c.targets);
  } catch (err) {
    throw new RuleCompileError([...path, "targets"], (err as Error).message);
  }
  if (phase === "headers") {
    const body = targets.include.find((s) => BODY_COLLECTIONS.has(s.collection));
    if (body) throw new RuleCompileError([...path, "targets"], `phase headers cannot inspect "${body.collection}" (only known after the body)`);
  }
  const names = c.transforms.filter((t) => t !== "none");
  const transforms: Transform[] = [];
  const steps: number[] = [];
  let changesOn = 0;
  for (const [i, t] of names.entries()) {
    if (!isTransformName(t)) throw new RuleCompileError([...path, "transforms", i], `unknown transformation "${t}" (expected one of ${[...TRANSFORMS.keys()].join(", ")})`);
    transforms.push(TRANSFORMS.get(t)!);
    changesOn |= CHANGES_ON[t];
    steps.push(CHANGES_ON[t]);
  }
  const key = operatorOf(c);
  let op: Operator;
  try {
    op = compileOperator(key, c[key]);
  } catch (err) {
    throw new RuleCompileError([...path, key], (err as Error).message);
  }
  // negated and multi_match conditions can match without the literal in the final value: no prefilter
  const literals = c.negate || c.multi_match ? undefined : literalsOf(key, c[key]);
  const lowersOnly = names.includes("lowercase") && names.every((t) => t === "lowercase" || (CHANGES_ON[t as TransformName] & F_UPPER) === 0);
  const opNeeds = OPERATOR_NEEDS[key] ?? 0;
  // without a need, or negated (a value the operator cannot match then matches), every value may match
  const reach = opNeeds === 0 || c.negate || c.multi_match ? 0 : opNeeds | (changesOn & ~(lowersOnly ? F_UPPER : 0));
  const cannotMatch = c.negate || c.multi_match ? undefined : OPERATOR_CANNOT_MATCH[key];
  // a count's text depends on nothing but the count: what the condition makes of each small one is known now
  const countMatches = targets.include.some((sel) => sel.count) ? Array.from({ length: COUNT_TABLE }, (_, n) => reference(String(n), transforms, op, c.negate, c.multi_match)) : undefined;
  return { targets, transforms, chainId: chainIdOf(names), changesOn, stepChangesOn: Int32Array.from(steps), lowersOnly, multiMatch: c.multi_match, negate: c.negate, op, opNeeds, reach, cannotMatch, opName: key, literals, countMatches };
}

/**
 * A condition on one value by its definition, without the engine's shortcuts: every transformation in
 * order, the operator on the result (multi_match: on the value and after each step that changes it), the
 * negation last. Returns the match, or the value for a negated condition that misses.
 */
export function reference(value: string, transforms: readonly Transform[], op: Operator, negate: boolean, multiMatch: boolean): string | undefined {
  let v = value;
  let m = multiMatch ? op(v) : undefined;
  for (let i = 0; i < transforms.length && m === undefined; i++) {
    const next = transforms[i]!(v);
    if (multiMatch && next !== v) m = op(next);
    v = next;
  }
  if (!multiMatch) m = op(v);
  if (negate) return m === undefined ? value : undefined;
  return m;
}

/** Whether the condition's chain gives a value with features f back as it is or only lowered (Inspection.transformed). */
export function upToCase(c: CompiledCondition, f: number): boolean {
  const hit = f & c.changesOn;
  return hit === 0 || (hit === F_UPPER && c.lowersOnly);
}

function literalsOf(key: OperatorKey, arg: unknown): readonly string[] | undefined {
  switch (key) {
    case "rx":
      return requiredLiterals(String(arg));
    case "phrases":
      return arg as string[];
    case "contains":
    case "begins":
    case "ends":
    case "equals":
      return String(arg) === "" ? undefined : [String(arg)];
    default:
      return undefined;
  }
}

export function compileRule(r: RuleSpec, location: string): CompiledRule {
  const head = compileCondition(r, [], r.phase);
  const chain = r.chain.map((c, i) => compileCondition(c, ["chain", i], r.phase));
  return {
    ...head,
    id: r.id,
    msg: r.msg,
    phase: r.phase,
    paranoia: r.paranoia,
    severity: r.severity,
    score: SEVERITY_SCORES[r.severity],
    tags: r.tags,
    chain,
    location,
  };
}
