/**
 * Targets: which values of a request a condition inspects.
 *
 *   args              every value of the collection
 *   headers:referer   the values whose name is "referer" (names compare case-insensitively)
 *   args:/^id_/       the values whose name matches the pattern
 *   count:args        one value: how many the collection holds ("0" when none)
 *   !args:password    leave these values out of the condition's other targets
 */
import { COLLECTION_INDEX, COLLECTIONS, type Arg, type Collection } from "./types.js";
import { compileSafeRegex } from "./regex-safety.js";

export interface KeyFilter {
  readonly collection: Collection;
  /** COLLECTION_INDEX of the collection (the engine looks collections up by number). */
  readonly index: number;
  /** undefined = every name. */
  readonly name?: string;
  readonly pattern?: RegExp;
}

export interface Selector extends KeyFilter {
  readonly count: boolean;
}

export interface TargetSet {
  readonly include: readonly Selector[];
  readonly exclude: readonly KeyFilter[];
}

const KNOWN: ReadonlySet<string> = new Set(COLLECTIONS);

/** Parses one target string; throws Error(reason) when it is not one. */
export function parseTarget(text: string): { exclude: boolean; selector: Selector } {
  let t = text.trim();
  const exclude = t.startsWith("!");
  if (exclude) t = t.slice(1);
  const count = t.startsWith("count:");
  if (count) t = t.slice(6);
  const colon = t.indexOf(":");
  const collection = (colon < 0 ? t : t.slice(0, colon)).toLowerCase();
  if (!KNOWN.has(collection)) throw new Error(`unknown target "${collection}" (expected one of ${COLLECTIONS.join(", ")})`);
  if (exclude && count) throw new Error(`"${text}": an exclusion cannot be a count`);
  const key = colon < 0 ? undefined : t.slice(colon + 1);
  if (key === "") throw new Error(`"${text}": empty name after ":"`);
  if (exclude && key === undefined) throw new Error(`"${text}": an exclusion names one value (collection:name)`);
  let selector: Selector = { collection: collection as Collection, index: COLLECTION_INDEX.get(collection as Collection)!, count };
  if (key !== undefined) {
    if (key.length > 2 && key.startsWith("/") && key.endsWith("/")) {
      selector = { ...selector, pattern: compileSafeRegex(`(?i)${key.slice(1, -1)}`).regex };
    } else {
      selector = { ...selector, name: key.toLowerCase() };
    }
  }
  return { exclude, selector };
}

export function parseTargets(texts: readonly string[]): TargetSet {
  const include: Selector[] = [];
  const exclude: KeyFilter[] = [];
  for (const t of texts) {
    const p = parseTarget(t);
    if (p.exclude) exclude.push(p.selector);
    else include.push(p.selector);
  }
  if (include.length === 0) throw new Error("needs at least one target that is not an exclusion");
  return { include, exclude };
}

/** Whether a filter picks out this arg of its collection. */
export function keyMatches(f: KeyFilter, arg: Arg): boolean {
  if (f.name !== undefined) return sameName(arg.name, f.name);
  if (f.pattern !== undefined) return f.pattern.test(arg.name);
  return true;
}

/** name.toLowerCase() === lower for names of equal length, without making the lower-cased copy for ASCII names (runs per value per named target). */
export function sameName(name: string, lower: string): boolean {
  if (name === lower) return true;
  if (name.length !== lower.length) return false;
  for (let i = 0; i < name.length; i++) {
    let c = name.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) c += 32;
    else if (c > 0x7f) return name.toLowerCase() === lower;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** Name shown in logs and audit events: "args:q", "count:args", "body". */
export function targetLabel(collection: Collection, arg: Arg | undefined, count: boolean): string {
  if (count) return `count:${collection}`;
  if (arg === undefined || arg.name === collection) return collection;
  return `${collection}:${arg.name}`;
}

/** Whether a selector (name filter) picks this arg and no exclusion removes it. */
export function selected(sel: Selector, excluded: readonly KeyFilter[], a: Arg): boolean {
  if ((sel.name !== undefined || sel.pattern !== undefined) && !keyMatches(sel, a)) return false;
  for (let i = 0; i < excluded.length; i++) {
    const x = excluded[i]!;
    if (x.collection === sel.collection && keyMatches(x, a)) return false;
  }
  return true;
}

/** An exclusion on `args` also covers the query and body args it is made of. */
export function widenExclusion(f: KeyFilter): KeyFilter[] {
  const as = (collection: Collection): KeyFilter => ({ ...f, collection, index: COLLECTION_INDEX.get(collection)! });
  if (f.collection === "args") return [f, as("query_args"), as("body_args")];
  if (f.collection === "args_names") return [f, as("query_args_names"), as("body_args_names")];
  return [f];
}
