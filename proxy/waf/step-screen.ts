/**
 * A screen run before a rule is touched: whether the rule's head condition,
 * and each of its chained conditions, could match this request at all,
 * decided from flat arrays and the request's own columns. A condition
 * cannot match when every value its targets could pick is known not to
 * match it (the engine remembers such misses per value), when the header it
 * names is absent, or when the count it takes is one it does not match.
 *
 * Most rules end that way on an ordinary request, and reaching that answer
 * through the rule (its condition, selectors, exclusions, operator) touched
 * a few cache lines per rule: inside the proxy, with its own work evicting
 * the WAF's data between requests, that was half of the WAF's cost on a
 * plain GET. The screen only passes over rules that would find nothing; a
 * rule it lets through runs as before. What every value of a collection is
 * known clean for is worked out once per request and collection; a miss a
 * rule records later in the same request is only seen from the next one.
 */
import type { CompiledCondition } from "./compile.js";
import type { Inspection } from "./inspection.js";
import { isClean, type Known } from "./value-memo.js";
import { sameName, type Selector } from "./targets.js";
import { COLLECTIONS, type Arg } from "./types.js";

/** Selector name codes: every name, or a name pattern (anything else indexes `names`). */
const ALL_NAMES = -1;
const NAME_PATTERN = -2;

export interface Screen {
  /** Conditions of step i (its head, then its chain): from `start[i]` to `start[i + 1]`. */
  readonly start: Int32Array;
  /** Selectors of condition j: from `selStart[j]` to `selStart[j + 1]`. */
  readonly selStart: Int32Array;
  /** Per selector: collection number. */
  readonly col: Int32Array;
  /** Per selector: ALL_NAMES, NAME_PATTERN or an index into `names`. */
  readonly name: Int32Array;
  /** Per selector: 1 for a count, 2 for a count whose condition does not match "0" (a count of nothing is then no hit). */
  readonly count: Uint8Array;
  /** Per selector: for a count whose condition has no exclusions, the condition's countMatches (what it gives each small count). */
  readonly countMatches: readonly (readonly (string | undefined)[] | undefined)[];
  /** Per condition: its number for the engine's clean bits (every condition has one). */
  readonly cond: Int32Array;
  /** Lower-case names of named selectors. */
  readonly names: readonly string[];
  /** Words of clean bits (16 a word, as Inspection.isClean reads them) the heads' numbers need. */
  readonly words: number;
  /** By collection and word: the clean bits every value of the collection has in this request (see commonWord). */
  readonly common: Int32Array;
  /** By collection and word: the request (Inspection.epoch) that word of `common` was worked out for. */
  readonly stamp: Int32Array;
  /** By collection and name code: how many values of the collection have that name, and the first one's index (see named). */
  readonly nameCount: Int32Array;
  readonly nameFirst: Int32Array;
  /** By collection and name code: the request that entry was worked out for. */
  readonly nameStamp: Int32Array;
}

/** One condition of a step: the condition, its number for the clean bits, and whether exclusions narrow what it picks. */
export interface ScreenedCondition {
  readonly cond: CompiledCondition;
  readonly memo: number;
  readonly excluded: boolean;
}

/** steps: each step's conditions, its head first, then its chain (all must match for the rule to). */
export function buildScreen(steps: readonly (readonly ScreenedCondition[])[]): Screen {
  const start = new Int32Array(steps.length + 1);
  const conds = steps.flat();
  const selStart = new Int32Array(conds.length + 1);
  const col: number[] = [];
  const name: number[] = [];
  const count: number[] = [];
  const countMatches: (readonly (string | undefined)[] | undefined)[] = [];
  const names: string[] = [];
  const nameIndex = new Map<string, number>();
  let j = 0;
  steps.forEach((step, i) => {
    start[i] = j;
    for (const h of step) {
      selStart[j++] = col.length;
      for (const sel of h.cond.targets.include) {
        col.push(sel.index);
        name.push(nameCode(sel, names, nameIndex));
        // what a count of nothing gives the condition: its count table says (compile.ts)
        count.push(!sel.count ? 0 : h.cond.countMatches?.[0] === undefined ? 2 : 1);
        // with exclusions the condition counts fewer values than the screen would
        countMatches.push(sel.count && !h.excluded ? h.cond.countMatches : undefined);
      }
    }
  });
  start[steps.length] = j;
  selStart[j] = col.length;
  const words = (conds.reduce((m, h) => Math.max(m, h.memo), 0) >>> 4) + 1;
  return {
    start,
    selStart,
    col: Int32Array.from(col),
    name: Int32Array.from(name),
    count: Uint8Array.from(count),
    countMatches,
    cond: Int32Array.from(conds, (h) => h.memo),
    names,
    words,
    common: new Int32Array(COLLECTIONS.length * words),
    stamp: new Int32Array(COLLECTIONS.length * words).fill(-1),
    nameCount: new Int32Array(COLLECTIONS.length * names.length),
    nameFirst: new Int32Array(COLLECTIONS.length * names.length),
    nameStamp: new Int32Array(COLLECTIONS.length * names.length).fill(-1),
  };
}

function nameCode(sel: Selector, names: string[], index: Map<string, number>): number {
  if (sel.pattern !== undefined) return NAME_PATTERN;
  if (sel.name === undefined) return ALL_NAMES;
  let n = index.get(sel.name);
  if (n === undefined) {
    n = names.length;
    names.push(sel.name);
    index.set(sel.name, n);
  }
  return n;
}

const NO_ARGS: readonly Arg[] = [];

/**
 * False when step i cannot match this request: its head, or one of its chained conditions, cannot (see the
 * file comment); true when it has to run.
 * present: bits (1 << collection number) of the collections that hold a value in this request.
 */
export function couldMatch(s: Screen, i: number, insp: Inspection, present: number): boolean {
  for (let j = s.start[i]!, end = s.start[i + 1]!; j < end; j++) if (!conditionCould(s, j, insp, present)) return false;
  return true;
}

/** Whether condition j of the screen could match this request. */
function conditionCould(s: Screen, j: number, insp: Inspection, present: number): boolean {
  const cond = s.cond[j]!;
  for (let k = s.selStart[j]!, end = s.selStart[j + 1]!; k < end; k++) {
    const index = s.col[k]!;
    const count = s.count[k]!;
    // an empty collection: nothing to pick, and a count of it is 0 (decided below like an absent name)
    if (count === 0 && (present & (1 << index)) === 0) continue;
    const args = insp.req.collections.at(index) ?? NO_ARGS;
    const code = s.name[k]!;
    if (count !== 0) {
      // a count the condition's table answers (every value or one name, no exclusions) decides here; otherwise a
      // count of a name the request lacks is 0, and anything else is worked out by the rule
      const table = s.countMatches[k];
      if (table !== undefined && code !== NAME_PATTERN) {
        const n = code === ALL_NAMES ? args.length : named(s, index, code, args, insp.epoch);
        if (n < table.length) {
          if (table[n] !== undefined) return true;
          continue;
        }
      }
      if (count === 1 || code < 0 || named(s, index, code, args, insp.epoch) > 0) return true;
      continue;
    }
    const states = insp.column(index, args);
    if ((commonWord(s, index, cond >>> 4, states, insp.epoch) & (1 << (cond & 15))) !== 0) continue;
    // some value of the collection is not known clean: a selector of every name (or a pattern) must run; a named one may not pick it
    if (code < 0) return true;
    // several rules name the same header (user-agent, content-type): where it is, is worked out once per request
    const n = named(s, index, code, args, insp.epoch);
    if (n === 0) continue;
    const first = s.nameFirst[index * s.names.length + code]!;
    if (!isClean(states[first]!, cond)) return true;
    if (n === 1) continue;
    const want = s.names[code]!;
    for (let v = first + 1; v < args.length; v++) if (sameName(args[v]!.name, want) && !isClean(states[v]!, cond)) return true;
  }
  return false;
}

/**
 * Whether every value of collection n (`states`, its records) is known not to match condition number cond:
 * a rule that runs passes over such a collection without reading its values one by one (a JSON body's
 * field names, known clean from earlier requests, when only its values are new).
 */
export function allClean(s: Screen, n: number, cond: number, states: readonly Known[], epoch: number): boolean {
  const k = cond >>> 4;
  return k < s.words && (commonWord(s, n, k, states, epoch) & (1 << (cond & 15))) !== 0;
}

/**
 * Word k of the clean bits every value of collection n has (AND of their
 * words), worked out once per request, collection and word. The screen then
 * answers a head over a whole collection with one bit, reading each value's
 * record once per request and word instead of once per rule; only the words
 * some screened head asks for are worked out (a JSON body has hundreds of
 * values).
 */
function commonWord(s: Screen, n: number, k: number, states: readonly Known[], epoch: number): number {
  const at = n * s.words + k;
  if (s.stamp[at] === epoch) return s.common[at]!;
  let bits = -1;
  for (let v = 0; v < states.length && bits !== 0; v++) {
    const c = states[v]!.clean;
    bits &= c !== undefined && k < c.length ? c[k]! : 0;
  }
  s.common[at] = bits;
  s.stamp[at] = epoch;
  return bits;
}

/** How many values of collection n are named s.names[code] (the first one's index goes to nameFirst), once per request. */
function named(s: Screen, n: number, code: number, args: readonly Arg[], epoch: number): number {
  const at = n * s.names.length + code;
  if (s.nameStamp[at] === epoch) return s.nameCount[at]!;
  const want = s.names[code]!;
  let count = 0;
  let first = -1;
  for (let v = 0; v < args.length; v++) {
    if (!sameName(args[v]!.name, want)) continue;
    if (count++ === 0) first = v;
  }
  s.nameCount[at] = count;
  s.nameFirst[at] = first;
  s.nameStamp[at] = epoch;
  return count;
}
