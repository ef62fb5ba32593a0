/**
 * Exclusions (ModSecurity's ctl:ruleRemoveById / ruleRemoveTargetById and
 * CRS's exclusion packages): drop rules by id or tag, or one target from
 * one rule, globally, for a route or for a path prefix. Also per-scope mode
 * overrides. Compiled once; a request's set of removals is memoised by which
 * scopes it falls in, so the hot path does no set building.
 */
import type { CompiledRule } from "./compile.js";
import { parseTarget, widenExclusion, type KeyFilter } from "./targets.js";

export type WafMode = "block" | "detect" | "off";

/** Rule id or inclusive id range. */
export type IdRange = readonly [number, number];

export interface Scope {
  /** Route name (the proxy's route that matched). */
  readonly route?: string;
  /** Normalised path prefix. */
  readonly pathPrefix?: string;
}

export interface ExclusionSpec extends Scope {
  readonly removeRules?: readonly IdRange[];
  readonly removeTags?: readonly string[];
  readonly removeTargets?: readonly { readonly rules: IdRange; readonly target: string }[];
}

export interface ModeOverride extends Scope {
  readonly mode?: WafMode;
}

/** What applies to one request: the rules to run and extra exclusions per rule. */
export interface Plan {
  readonly mode: WafMode;
  readonly rules: readonly CompiledRule[];
  readonly excludes: ReadonlyMap<number, readonly KeyFilter[]>;
}

interface CompiledExclusion extends Scope {
  readonly removeRules: readonly IdRange[];
  readonly removeTags: ReadonlySet<string>;
  readonly removeTargets: readonly { readonly rules: IdRange; readonly filters: readonly KeyFilter[] }[];
}

const MAX_PLANS = 256;

const inRange = (id: number, r: IdRange): boolean => id >= r[0] && id <= r[1];

function applies(s: Scope, route: string, path: string): boolean {
  if (s.route !== undefined && s.route !== route) return false;
  if (s.pathPrefix !== undefined && !path.startsWith(s.pathPrefix)) return false;
  return true;
}

/** Parses "942100" / "942100-942199" / 942100. Throws Error(reason). */
export function parseIdRange(v: string | number): IdRange {
  if (typeof v === "number") return [v, v];
  const m = /^\s*(\d{1,9})\s*(?:-\s*(\d{1,9})\s*)?$/.exec(v);
  if (m === null) throw new Error(`"${v}" is not a rule id or id range (942100 or 942100-942199)`);
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  if (hi < lo) throw new Error(`"${v}": range goes from high to low`);
  return [lo, hi];
}

export class Exclusions {
  private readonly exclusions: readonly CompiledExclusion[];
  private readonly plans = new Map<string, Plan>();

  /** Throws Error(reason) for a target that does not parse. */
  constructor(
    private readonly rules: readonly CompiledRule[],
    specs: readonly ExclusionSpec[],
    private readonly overrides: readonly ModeOverride[],
    private readonly defaultMode: WafMode,
  ) {
    this.exclusions = specs.map((s) => ({
      route: s.route,
      pathPrefix: s.pathPrefix,
      removeRules: s.removeRules ?? [],
      removeTags: new Set(s.removeTags ?? []),
      removeTargets: (s.removeTargets ?? []).map((t) => {
        const p = parseTarget(t.target);
        if (p.selector.count) throw new Error(`exclusion target "${t.target}" cannot be a count`);
        return { rules: t.rules, filters: widenExclusion(p.selector) };
      }),
    }));
  }

  /** The plan for a request on `route` at `path`. */
  planFor(route: string, path: string): Plan {
    let key = "";
    for (let i = 0; i < this.exclusions.length; i++) if (applies(this.exclusions[i]!, route, path)) key += `${i},`;
    key += "|";
    for (let i = 0; i < this.overrides.length; i++) if (applies(this.overrides[i]!, route, path)) key += `${i},`;
    let plan = this.plans.get(key);
    if (plan === undefined) {
      plan = this.build(route, path);
      if (this.plans.size < MAX_PLANS) this.plans.set(key, plan);
    }
    return plan;
  }

  private build(route: string, path: string): Plan {
    let mode = this.defaultMode;
    // The most specific override wins: a later one in the list overrides an earlier one.
    for (const o of this.overrides) if (applies(o, route, path) && o.mode !== undefined) mode = o.mode;
    const active = this.exclusions.filter((e) => applies(e, route, path));
    const rules = this.rules.filter(
      (r) => !active.some((e) => e.removeRules.some((rg) => inRange(r.id, rg)) || r.tags.some((t) => e.removeTags.has(t))),
    );
    const excludes = new Map<number, KeyFilter[]>();
    for (const e of active) {
      for (const t of e.removeTargets) {
        for (const r of rules) {
          if (!inRange(r.id, t.rules)) continue;
          excludes.set(r.id, [...(excludes.get(r.id) ?? []), ...t.filters]);
        }
      }
    }
    return { mode, rules, excludes };
  }
}
