/**
 * Turns an authz config into predicates over a request, once, at create().
 * Every list becomes a Set / prefix list / CIDR set and every `when` key a
 * getter, so deciding a request compiles nothing and allocates nothing.
 *
 * Istio's shape: a policy matches if ANY rule matches; a rule if its from,
 * to and when all match; from/to match if ANY entry matches; inside an entry
 * the fields are ANDed and the values of one field ORed; `x` and `not_x` of a
 * field are ANDed. An absent or empty field is no condition.
 */
import { CidrSet, parseCidr, parseIp, type Cidr } from "./authz-ip.js";
import { stringSet, type StringSet } from "./authz-match.js";
import {
  parsePort,
  parseWhenKey,
  type AuthzCondition,
  type AuthzOperation,
  type AuthzPolicy,
  type AuthzRule,
  type AuthzSource,
} from "./authz-schema.js";
import type { FilterRequest } from "./types.js";

/** Per-request values computed once and shared by every predicate (reused between requests). */
export class MatchContext {
  req!: FilterRequest;
  /** Normalised path (see path-normalize.ts). */
  path = "";
  /** Lower-cased host. */
  host = "";
  private ipFamily: 0 | 4 | 6 = 0;
  private ipParsed = false;
  private readonly ipWords = new Uint32Array(4);

  reset(req: FilterRequest, path: string, host: string): void {
    this.req = req;
    this.path = path;
    this.host = host;
    this.ipParsed = false;
  }

  /** Whether the remote address is in set (parsed on first use, once per request). */
  sourceIpIn(set: CidrSet): boolean {
    if (!this.ipParsed) {
      this.ipFamily = parseIp(this.req.remoteAddress, this.ipWords);
      this.ipParsed = true;
    }
    return set.matches(this.ipFamily, this.ipWords);
  }
}

export type Pred = (ctx: MatchContext) => boolean;
type Getter = (ctx: MatchContext) => string | undefined;

export const ALWAYS: Pred = () => true;
export const NEVER: Pred = () => false;

function all(preds: Pred[]): Pred {
  if (preds.length === 0) return ALWAYS;
  if (preds.length === 1) return preds[0]!;
  return (ctx) => {
    for (let i = 0; i < preds.length; i++) if (!preds[i]!(ctx)) return false;
    return true;
  };
}

/** ANY of preds; an empty list is no condition (ALWAYS), as an absent from/to is. */
function anyOrAlways(preds: Pred[]): Pred {
  if (preds.length === 0) return ALWAYS;
  if (preds.length === 1) return preds[0]!;
  return (ctx) => {
    for (let i = 0; i < preds.length; i++) if (preds[i]!(ctx)) return true;
    return false;
  };
}

/** x / not_x as one predicate, or undefined when both are empty. */
function both<S>(
  pos: S | undefined,
  neg: S | undefined,
  test: (set: S, ctx: MatchContext) => boolean,
): Pred | undefined {
  if (pos && neg) return (ctx) => test(pos, ctx) && !test(neg, ctx);
  if (pos) return (ctx) => test(pos, ctx);
  if (neg) return (ctx) => !test(neg, ctx);
  return undefined;
}

/** The hottest predicate, so written out rather than through both(): one getter call, no extra hop. */
function stringField(get: Getter, posList?: string[], negList?: string[], lower = false): Pred | undefined {
  const pos = stringSet(posList, lower);
  const neg = stringSet(negList, lower);
  if (pos && neg) {
    return (ctx) => {
      const v = get(ctx);
      return pos.matches(v) && !neg.matches(v);
    };
  }
  if (pos) return (ctx) => pos.matches(get(ctx));
  if (neg) return (ctx) => !neg.matches(get(ctx));
  return undefined;
}

function cidrSet(list: string[] | undefined): CidrSet | undefined {
  if (!list || list.length === 0) return undefined;
  // The schema has checked every entry.
  return new CidrSet(list.map((s) => parseCidr(s)).filter((c): c is Cidr => c !== undefined));
}

function ipField(pos?: string[], neg?: string[]): Pred | undefined {
  return both(cidrSet(pos), cidrSet(neg), (set, ctx) => ctx.sourceIpIn(set));
}

function portSet(list: readonly (number | string)[] | undefined): Set<number> | undefined {
  if (!list || list.length === 0) return undefined;
  return new Set(list.map((p) => parsePort(p)).filter((p): p is number => p !== undefined));
}

function portField(pos?: readonly (number | string)[], neg?: readonly (number | string)[]): Pred | undefined {
  return both(portSet(pos), portSet(neg), (set, ctx) => set.has(ctx.req.port));
}

/** A claim's value at path (undefined when any step is missing or not an object). */
export function claimAt(claims: Readonly<Record<string, unknown>> | undefined, path: readonly string[]): unknown {
  let v: unknown = claims;
  for (let i = 0; i < path.length; i++) {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
    if (!Object.prototype.hasOwnProperty.call(v, path[i]!)) return undefined;
    v = (v as Record<string, unknown>)[path[i]!];
  }
  return v;
}

/** A string claim matches as itself; a list claim if any string element matches; other types never. */
function claimMatches(v: unknown, set: StringSet): boolean {
  if (typeof v === "string") return set.matches(v);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const e: unknown = v[i];
      if (typeof e === "string" && set.matches(e)) return true;
    }
  }
  return false;
}

function claimField(path: readonly string[], pos?: string[], neg?: string[]): Pred | undefined {
  return both(stringSet(pos), stringSet(neg), (set, ctx) => claimMatches(claimAt(ctx.req.auth?.claims, path), set));
}

/** A header's value; repeated headers (an array) are joined with "," as Envoy does. */
function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(",") : v;
}

const peerPrincipal: Getter = (ctx) => ctx.req.peer?.principal;
const peerNamespace: Getter = (ctx) => ctx.req.peer?.namespace;
const requestPrincipal: Getter = (ctx) => ctx.req.auth?.principal;
const host: Getter = (ctx) => ctx.host;
const method: Getter = (ctx) => ctx.req.method;
const path: Getter = (ctx) => ctx.path;

function defined(preds: (Pred | undefined)[]): Pred[] {
  return preds.filter((p): p is Pred => p !== undefined);
}

function compileSource(s: AuthzSource): Pred {
  return all(
    defined([
      stringField(peerPrincipal, s.principals, s.not_principals),
      stringField(peerNamespace, s.namespaces, s.not_namespaces),
      stringField(requestPrincipal, s.request_principals, s.not_request_principals),
      ipField(s.ip_blocks, s.not_ip_blocks),
    ]),
  );
}

function compileOperation(o: AuthzOperation): Pred {
  return all(
    defined([
      stringField(host, o.hosts, o.not_hosts, true),
      portField(o.ports, o.not_ports),
      stringField(method, o.methods, o.not_methods),
      stringField(path, o.paths, o.not_paths),
    ]),
  );
}

function compileCondition(c: AuthzCondition): Pred {
  const key = parseWhenKey(c.key);
  if (typeof key === "string") throw new Error(key); // the schema refuses these first
  const pos = c.values;
  const neg = c.not_values;
  let pred: Pred | undefined;
  switch (key.kind) {
    case "header": {
      const name = key.name;
      pred = stringField((ctx) => headerValue(ctx.req.headers[name]), pos, neg);
      break;
    }
    case "claim":
      pred = claimField(key.path, pos, neg);
      break;
    case "audiences":
      pred = claimField(["aud"], pos, neg);
      break;
    case "presenter":
      pred = claimField(["azp"], pos, neg);
      break;
    case "request_principal":
      pred = stringField(requestPrincipal, pos, neg);
      break;
    case "source_principal":
      pred = stringField(peerPrincipal, pos, neg);
      break;
    case "source_namespace":
      pred = stringField(peerNamespace, pos, neg);
      break;
    case "source_ip":
      pred = ipField(pos, neg);
      break;
    case "destination_port":
      pred = portField(pos, neg);
      break;
  }
  return pred ?? ALWAYS;
}

function compileRule(r: AuthzRule): Pred {
  const parts: Pred[] = [];
  if (r.from?.length) parts.push(anyOrAlways(r.from.map((f) => compileSource(f.source))));
  if (r.to?.length) parts.push(anyOrAlways(r.to.map((t) => compileOperation(t.operation))));
  for (const c of r.when ?? []) parts.push(compileCondition(c));
  return all(parts);
}

/** A policy's predicate. No rules (absent or empty) matches nothing; a rule `{}` matches everything. */
export function compilePolicy(p: AuthzPolicy): Pred {
  if (!p.rules || p.rules.length === 0) return NEVER;
  const rules = p.rules.map(compileRule);
  if (rules.length === 1) return rules[0]!;
  return (ctx) => {
    for (let i = 0; i < rules.length; i++) if (rules[i]!(ctx)) return true;
    return false;
  };
}

/** Whether any rule of the policy matches on paths (the filter then normalises and may refuse the path). */
export function policyUses(p: AuthzPolicy, field: "paths" | "methods"): boolean {
  const notField = field === "paths" ? "not_paths" : "not_methods";
  return (p.rules ?? []).some((r) =>
    (r.to ?? []).some((t) => (t.operation[field]?.length ?? 0) > 0 || (t.operation[notField]?.length ?? 0) > 0),
  );
}
