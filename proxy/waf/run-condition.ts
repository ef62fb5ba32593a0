/**
 * Running one condition over a parsed request: each value its targets pick
 * (or their count) through its transformations and operator, with the
 * engine's shortcuts: values known clean, collections every value of which
 * is known clean, gated conditions that look only at the values holding one
 * of their literals. The first value that matches is the hit.
 */
import { reference, upToCase, type CompiledCondition } from "./compile.js";
import type { Inspection } from "./inspection.js";
import { allClean, type Screen } from "./step-screen.js";
import { selected, targetLabel, type KeyFilter, type Selector } from "./targets.js";
import { COLLECTION_INDEX, type Arg } from "./types.js";
import { featuresOfKnown, isClean, markClean, type Known } from "./value-memo.js";

/** The decimal text of small counts, made once (a count selector runs on most requests). */
const COUNT_TEXT = Array.from({ length: 64 }, (_, i) => String(i));
const countText = (n: number): string => (n < COUNT_TEXT.length ? COUNT_TEXT[n]! : String(n));

export interface Hit {
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
    const table = c.countMatches;
    const m = table !== undefined && n < table.length ? table[n] : test(c, -1, insp.state(countText(n)), insp);
    return m === undefined ? undefined : { target: targetLabel(sel.collection, undefined, true), match: m };
  }
  const states = insp.column(sel.index, args);
  if (cond >= 0 && allClean(screen, sel.index, cond, states, insp.epoch)) return undefined;
  // the values of a names collection are names, which come back request after request: one that is not
  // selected is still tested once, so that its clean bit passes over it from then on (a name pattern
  // exclusion, tested on every request, cost more than the operator it saved)
  const testFirst = cond >= 0 && (NAME_COLLECTIONS & (1 << sel.index)) !== 0;
  const reach = c.reach;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const st = states[i]!;
    // a value known not to match is passed over before the (dearer) name checks: names and values repeat
    if (isClean(st, cond)) continue;
    // nor can a value without the features the condition needs (a detector's syntax): most of a JSON body's
    if (reach !== 0 && (featuresOfKnown(st) & reach) === 0) {
      if (cond >= 0 && st.kept === true) markClean(st, cond);
      continue;
    }
    if (!testFirst && !selected(sel, excludes, a)) continue;
    const m = test(c, cond, st, insp);
    if (m !== undefined && (!testFirst || selected(sel, excludes, a))) return { target: targetLabel(sel.collection, a, false), match: m };
  }
  return undefined;
}

/** Bits (1 << collection number) of the collections whose values are names. */
const NAME_COLLECTIONS = (["query_args_names", "body_args_names", "args_names", "headers_names", "cookies_names", "files_names"] as const).reduce((m, c) => m | (1 << COLLECTION_INDEX.get(c)!), 0);

/** The first value of the condition's targets that its operator matches (or, negated, does not); excludes: the condition's own and the plan's for its rule. */
export function runCondition(c: CompiledCondition, cond: number, insp: Inspection, excludes: readonly KeyFilter[], screen: Screen): Hit | undefined {
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
export function runGated(c: CompiledCondition, cond: number, insp: Inspection, excludes: readonly KeyFilter[], gate: number, screen: Screen): Hit | undefined {
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
        if (isClean(st, cond)) continue;
        if (!insp.triggers(st, set, gate)) {
          // holding none of the condition's literals, the value cannot match it: remembered, the screen passes over it next time
          if (cond >= 0 && st.kept === true) markClean(st, cond);
          continue;
        }
        if (!selected(sel, excludes, args[i]!)) continue;
        const m = test(c, cond, st, insp);
        if (m !== undefined) return { target: targetLabel(sel.collection, args[i]!, false), match: m };
      }
      continue;
    }
    for (let k = 0; k < idxs.length; k++) {
      const a = args[idxs[k]!]!;
      if (isClean(states[idxs[k]!]!, cond) || !selected(sel, excludes, a)) continue;
      const m = test(c, cond, states[idxs[k]!]!, insp);
      if (m !== undefined) return { target: targetLabel(sel.collection, a, false), match: m };
    }
  }
  return undefined;
}

/** The condition's operator on one value (multi_match: also before and between transformations). */
function test(c: CompiledCondition, cond: number, st: Known, insp: Inspection): string | undefined {
  let m: string | undefined;
  // multi_match: the operator on the raw value and after every step that changes it, as the definition says
  if (c.multiMatch) m = reference(st.value, c.transforms, c.op, c.negate, true);
  else {
    // a value outside the condition's reach (the syntax its operator needs, or a change its chain would make
    // beyond case) cannot match; the record's features answer before anything is lowered
    const f = c.reach === 0 && c.cannotMatch === undefined ? 0 : featuresOfKnown(st);
    if (c.reach !== 0 && (f & c.reach) === 0) m = undefined;
    // nor one the operator's own quick test clears in any case (SQL: prose), before it is lowered
    else if (c.cannotMatch !== undefined && upToCase(c, f) && c.cannotMatch(st.value)) m = undefined;
    else {
      const input = insp.transformed(c, st);
      m = c.opNeeds !== 0 && (input === st.value || input === st.lower) && (f & c.opNeeds) === 0 ? undefined : c.op(input);
    }
    if (c.negate) m = m === undefined ? st.value : undefined;
  }
  // the callers have passed over values known clean (isClean), before their name checks; a count (cond -1) is not
  // remembered, nor a miss on a value no later request will look up (the condition does not run again in this one)
  if (m === undefined && cond >= 0 && st.kept === true) markClean(st, cond);
  return m;
}
