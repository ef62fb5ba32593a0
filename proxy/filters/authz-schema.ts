/**
 * The `authz` filter's config block (Istio AuthorizationPolicy, snake_case).
 * Everything a request could be matched against is checked here, so a policy
 * that could never match as written (a principal with `spiffe://`, a host
 * with a port, a path that is not normalised, `*` in the middle) is refused
 * at load with a message saying what to write instead.
 */
import { z } from "zod";
import { parseCidr } from "./authz-ip.js";
import { wildcardProblem } from "./authz-match.js";
import { isPathRejection, normalizePath } from "./path-normalize.js";

/** Bounds on the config (a policy set past them is refused, not truncated). */
export const AUTHZ_LIMITS = {
  policies: 1000,
  rulesPerPolicy: 256,
  /** from, to and when entries in one rule. */
  entriesPerRule: 64,
  valuesPerField: 1024,
  valueLength: 1024,
  nameLength: 128,
  whenKeyLength: 512,
  claimDepth: 8,
} as const;

export type WhenKey =
  | { readonly kind: "header"; readonly name: string }
  | { readonly kind: "claim"; readonly path: readonly string[] }
  | { readonly kind: "request_principal" }
  | { readonly kind: "audiences" }
  | { readonly kind: "presenter" }
  | { readonly kind: "source_principal" }
  | { readonly kind: "source_namespace" }
  | { readonly kind: "source_ip" }
  | { readonly kind: "destination_port" };

export const WHEN_KEYS_HELP =
  "request.headers[<name>], request.auth.principal, request.auth.audiences, request.auth.presenter, " +
  "request.auth.claims[<name>]([<name>]...), source.principal, source.namespace, source.ip, destination.port";

const SIMPLE_KEYS: Record<string, WhenKey> = {
  "request.auth.principal": { kind: "request_principal" },
  "request.auth.audiences": { kind: "audiences" },
  "request.auth.presenter": { kind: "presenter" },
  "source.principal": { kind: "source_principal" },
  "source.namespace": { kind: "source_namespace" },
  "source.ip": { kind: "source_ip" },
  "destination.port": { kind: "destination_port" },
};

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/;

/** Parses a `when` key; a string result is the error. */
export function parseWhenKey(key: string): WhenKey | string {
  const simple = SIMPLE_KEYS[key];
  if (simple) return simple;
  const bad = `unsupported key ${quote(key)}; supported: ${WHEN_KEYS_HELP}`;
  if (key.startsWith("request.headers[")) {
    const name = key.slice("request.headers[".length, -1);
    if (!key.endsWith("]") || !HEADER_NAME.test(name)) return `${bad} (a header name is a token such as x-foo)`;
    return { kind: "header", name: name.toLowerCase() };
  }
  if (key.startsWith("request.auth.claims[")) {
    const path: string[] = [];
    let rest = key.slice("request.auth.claims".length);
    while (rest.length > 0) {
      const close = rest.indexOf("]");
      if (rest[0] !== "[" || close < 2) return `${bad} (claims are written request.auth.claims[a][b])`;
      const name = rest.slice(1, close);
      if (name.includes("[")) return `${bad} (claims are written request.auth.claims[a][b])`;
      path.push(name);
      rest = rest.slice(close + 1);
    }
    if (path.length > AUTHZ_LIMITS.claimDepth) return `${quote(key)}: claims nest at most ${AUTHZ_LIMITS.claimDepth} deep`;
    return { kind: "claim", path };
  }
  return bad;
}

/** A port: 1-65535, as a number or a string of digits (Istio writes ports as strings). */
export function parsePort(v: unknown): number | undefined {
  const n = typeof v === "number" ? v : typeof v === "string" && /^\d{1,5}$/.test(v) ? Number(v) : Number.NaN;
  return Number.isInteger(n) && n >= 1 && n <= 65535 ? n : undefined;
}

const port = z.unknown().transform((v, ctx) => {
  const p = parsePort(v);
  if (p === undefined) {
    ctx.addIssue({ code: "custom", message: `expected a port number 1-65535, got ${quote(v)}` });
    return z.NEVER;
  }
  return p;
});

type Check = (p: string) => string | undefined;

/** A value quoted for an error message, cut so a huge value cannot flood the error. */
export function quote(v: unknown): string {
  const s = typeof v === "string" ? v : String(JSON.stringify(v));
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}...` : s);
}

function list<T extends z.ZodType>(item: T) {
  return z.array(item).max(AUTHZ_LIMITS.valuesPerField, `at most ${AUTHZ_LIMITS.valuesPerField} values`).optional();
}

/** A list of Istio match patterns, each checked by wildcardProblem and then by extra. */
function patterns(extra?: Check) {
  return list(z.string().max(AUTHZ_LIMITS.valueLength)).superRefine((values, ctx) => {
    values?.forEach((p, i) => {
      const problem = wildcardProblem(p) ?? extra?.(p);
      if (problem) ctx.addIssue({ code: "custom", path: [i], message: problem });
    });
  });
}

const principalCheck: Check = (p) =>
  p.startsWith("spiffe://")
    ? `${quote(p)}: write principals without spiffe:// (Istio form <trust-domain>/ns/<ns>/sa/<sa>)`
    : undefined;

const hostCheck: Check = (p) =>
  p.includes(":") && !p.startsWith("[") ? `${quote(p)}: hosts are matched without the port; use ports instead` : undefined;

const methodCheck: Check = (p) =>
  /^[A-Z]*$/.test(p.replace("*", "")) ? undefined : `${quote(p)}: methods are upper case, e.g. GET`;

const pathCheck: Check = (p) => {
  if (p === "*" || p.startsWith("*")) return undefined;
  if (!p.startsWith("/")) return `${quote(p)}: a path starts with / (or * for a suffix match)`;
  if (p.includes("?")) return `${quote(p)}: paths are matched without the query string`;
  const literal = p.endsWith("*") ? p.slice(0, -1) : p;
  const normal = normalizePath(literal);
  if (isPathRejection(normal)) return `${quote(p)}: ${normal.reason}, so it can never match`;
  if (normal !== literal) return `${quote(p)}: request paths are normalised before matching; write "${normal}${p.endsWith("*") ? "*" : ""}"`;
  return undefined;
};

function cidrCheck(p: string): string | undefined {
  return p.length <= 64 && parseCidr(p) ? undefined : `${quote(p)}: expected an IP address or CIDR block (10.0.0.0/8, 2001:db8::/32)`;
}

const cidrs = list(z.string().max(AUTHZ_LIMITS.valueLength)).superRefine((values, ctx) => {
  values?.forEach((p, i) => {
    const problem = cidrCheck(p);
    if (problem) ctx.addIssue({ code: "custom", path: [i], message: problem });
  });
});

const source = z.strictObject({
  principals: patterns(principalCheck),
  not_principals: patterns(principalCheck),
  namespaces: patterns(),
  not_namespaces: patterns(),
  request_principals: patterns(),
  not_request_principals: patterns(),
  ip_blocks: cidrs,
  not_ip_blocks: cidrs,
});

const operation = z.strictObject({
  hosts: patterns(hostCheck),
  not_hosts: patterns(hostCheck),
  ports: list(port),
  not_ports: list(port),
  methods: patterns(methodCheck),
  not_methods: patterns(methodCheck),
  paths: patterns(pathCheck),
  not_paths: patterns(pathCheck),
});

const conditionValues = list(z.string().max(AUTHZ_LIMITS.valueLength));

const condition = z
  .strictObject({
    key: z.string().min(1).max(AUTHZ_LIMITS.whenKeyLength),
    values: conditionValues,
    not_values: conditionValues,
  })
  .superRefine((c, ctx) => {
    const key = parseWhenKey(c.key);
    if (typeof key === "string") {
      ctx.addIssue({ code: "custom", path: ["key"], message: key });
      return;
    }
    if (!c.values?.length && !c.not_values?.length) {
      ctx.addIssue({ code: "custom", message: `${quote(c.key)}: a condition needs values or not_values` });
    }
    const check: Check =
      key.kind === "source_ip"
        ? cidrCheck
        : key.kind === "destination_port"
          ? (p) => (parsePort(p) === undefined ? `${quote(p)}: expected a port number 1-65535` : undefined)
          : wildcardProblem;
    for (const field of ["values", "not_values"] as const) {
      c[field]?.forEach((p, i) => {
        const problem = check(p);
        if (problem) ctx.addIssue({ code: "custom", path: [field, i], message: problem });
      });
    }
  });

const entries = <T extends z.ZodType>(item: T) =>
  z.array(item).max(AUTHZ_LIMITS.entriesPerRule, `at most ${AUTHZ_LIMITS.entriesPerRule} entries`).optional();

const rule = z.strictObject({
  from: entries(z.strictObject({ source })),
  to: entries(z.strictObject({ operation })),
  when: entries(condition),
});

const policyName = z
  .string()
  .min(1)
  .max(AUTHZ_LIMITS.nameLength)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, "a policy name is letters, digits and . _ : -");

const policy = z.strictObject({
  name: policyName,
  action: z.enum(["ALLOW", "DENY", "AUDIT"], { error: "action must be ALLOW, DENY or AUDIT" }).default("ALLOW"),
  /** Absent or empty: the policy matches nothing (Istio). `[{}]` matches everything. */
  rules: z
    .array(rule)
    .max(AUTHZ_LIMITS.rulesPerPolicy, `at most ${AUTHZ_LIMITS.rulesPerPolicy} rules in a policy`)
    .optional(),
});

export const authzConfigSchema = z
  .strictObject({
    policies: z.array(policy).max(AUTHZ_LIMITS.policies, `at most ${AUTHZ_LIMITS.policies} policies`),
  })
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.policies.forEach((p, i) => {
      if (seen.has(p.name)) {
        ctx.addIssue({ code: "custom", path: ["policies", i, "name"], message: `policy name "${p.name}" is used twice` });
      }
      seen.add(p.name);
    });
  });

export type AuthzConfig = z.output<typeof authzConfigSchema>;
export type AuthzConfigInput = z.input<typeof authzConfigSchema>;
export type AuthzPolicy = AuthzConfig["policies"][number];
export type AuthzRule = NonNullable<AuthzPolicy["rules"]>[number];
export type AuthzSource = NonNullable<AuthzRule["from"]>[number]["source"];
export type AuthzOperation = NonNullable<AuthzRule["to"]>[number]["operation"];
export type AuthzCondition = NonNullable<AuthzRule["when"]>[number];
