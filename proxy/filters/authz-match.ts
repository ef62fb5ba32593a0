/**
 * Istio's string matching, compiled once: `abc` exact, `abc*` prefix, `*abc`
 * suffix, `*` presence (any non-empty value). Exact values go in a Set, so a
 * long list costs one lookup; matching allocates nothing.
 */

/** Why a pattern is not one Istio accepts, or undefined when it is fine. */
export function wildcardProblem(p: string): string | undefined {
  if (p.length === 0) return "an empty string matches nothing; use * for any value";
  if (p === "*") return undefined;
  const first = p.indexOf("*");
  if (first < 0) return undefined;
  const last = p.lastIndexOf("*");
  if (first !== last || (first !== 0 && first !== p.length - 1)) {
    return `${JSON.stringify(p.length > 80 ? `${p.slice(0, 80)}...` : p)}: * is allowed only alone, at the start (suffix match) or at the end (prefix match)`;
  }
  return undefined;
}

export class StringSet {
  private readonly exact = new Set<string>();
  /** The exact value when there is just one (a compare is cheaper than hashing). */
  private only: string | undefined;
  private readonly prefixes: string[] = [];
  private readonly suffixes: string[] = [];
  private presence = false;

  /** lower: fold patterns to lower case (values must then be passed lower-cased). */
  constructor(patterns: readonly string[], lower = false) {
    for (const raw of patterns) {
      const p = lower ? raw.toLowerCase() : raw;
      if (p === "*") this.presence = true;
      else if (p.endsWith("*")) this.prefixes.push(p.slice(0, -1));
      else if (p.startsWith("*")) this.suffixes.push(p.slice(1));
      else this.exact.add(p);
    }
    if (this.exact.size === 1) this.only = this.exact.values().next().value;
  }

  /** An absent value never matches; the empty string only matches an exact "". */
  matches(v: string | undefined): boolean {
    if (v === undefined) return false;
    if (this.presence && v.length > 0) return true;
    if (this.only !== undefined ? v === this.only : this.exact.size > 0 && this.exact.has(v)) return true;
    const pre = this.prefixes;
    for (let i = 0; i < pre.length; i++) if (v.startsWith(pre[i]!)) return true;
    const suf = this.suffixes;
    for (let i = 0; i < suf.length; i++) if (v.endsWith(suf[i]!)) return true;
    return false;
  }
}

/** A set, or undefined for an absent or empty list (Istio: an empty field is no condition). */
export function stringSet(patterns: readonly string[] | undefined, lower = false): StringSet | undefined {
  return patterns && patterns.length > 0 ? new StringSet(patterns, lower) : undefined;
}
