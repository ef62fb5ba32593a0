/**
 * The `routes:` block: zod schemas (snake_case keys, strict objects, every
 * list and string bounded) and the inferred config types.
 */
import { isIP } from "node:net";
import { z } from "zod";
import { durationMs } from "../duration.js";
import { DEFAULT_RETRY_POLICY_CONFIG, retryPolicySchema } from "../cluster/retry.js";
import { parseOrThrow } from "./config-path.js";
import { regexProblem } from "./regex.js";

export const MAX_ROUTES = 1000;
const MAX_PATH = 1024;
const MAX_VALUE = 1024;

/** Names of routes and clusters: what shows up in metrics labels, so kept tame. */
export const nameSchema = z
  .string()
  .max(128)
  .regex(/^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/, "expected a name of letters, digits, '.', '_' or '-' (up to 128)");

const regexSchema = z.string().superRefine((src, ctx) => {
  const problem = regexProblem(src);
  if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
});

const pathString = z
  .string()
  .max(MAX_PATH)
  .regex(/^\/[\x21-\x7e]*$/, "expected a path starting with '/' (printable ASCII, no spaces)");

/** Lower-cased host pattern: exact name, "*", "*<suffix>", an IP or [IPv6]; never a port. */
const hostPatternSchema = z
  .string()
  .max(253)
  .transform((h) => h.toLowerCase().replace(/\.$/, ""))
  .superRefine((h, ctx) => {
    if (h === "*") return;
    if (h.startsWith("[") && h.endsWith("]") && isIP(h.slice(1, -1)) === 6) return;
    if (isIP(h) === 4) return;
    const body = h.startsWith("*") ? h.slice(1) : h;
    if (/:\d+$/.test(h)) {
      ctx.addIssue({ code: "custom", message: `host "${h}" carries a port; ports are ignored when matching, leave it out` });
    } else if (body.includes("*")) {
      ctx.addIssue({ code: "custom", message: `host "${h}": only a single leading "*" wildcard is allowed` });
    } else if (!/^[a-z0-9_.-]+$/.test(body) || body === "") {
      ctx.addIssue({ code: "custom", message: `host "${h}": expected a host name, "*.domain", "*" or an IP address` });
    }
  });

function exactlyOne(keys: readonly string[], what: string) {
  return (obj: Record<string, unknown>, ctx: z.RefinementCtx) => {
    const set = keys.filter((k) => obj[k] !== undefined);
    if (set.length !== 1) {
      ctx.addIssue({ code: "custom", message: `${what}: expected exactly one of ${keys.join(" | ")}${set.length ? `, got ${set.join(" and ")}` : ""}` });
    }
  };
}

export const pathMatchSchema = z
  .object({ exact: pathString.optional(), prefix: pathString.optional(), regex: regexSchema.optional() })
  .strict()
  .superRefine(exactlyOne(["exact", "prefix", "regex"], "path"));

export const headerMatchSchema = z
  .object({
    name: z
      .string()
      .max(128)
      .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, "expected an HTTP header name")
      .transform((n) => n.toLowerCase()),
    exact: z.string().max(MAX_VALUE).optional(),
    prefix: z.string().min(1).max(MAX_VALUE).optional(),
    suffix: z.string().min(1).max(MAX_VALUE).optional(),
    regex: regexSchema.optional(),
    present: z.boolean().optional(),
    /** Flip the result; an absent header still fails every value matcher, as in Envoy. */
    invert: z.boolean().default(false),
    /** Match an absent header as if it were "" (Envoy's treat_missing_header_as_empty). */
    treat_missing_header_as_empty: z.boolean().default(false),
  })
  .strict()
  .superRefine(exactlyOne(["exact", "prefix", "suffix", "regex", "present"], "header match"));

export const routeMatchSchema = z
  .object({
    hosts: z.array(hostPatternSchema).min(1).max(64).optional(),
    path: pathMatchSchema.optional(),
    methods: z
      .array(
        z
          .string()
          .regex(/^[A-Za-z]{1,20}$/, "expected an HTTP method such as GET")
          .transform((m) => m.toUpperCase()),
      )
      .min(1)
      .max(16)
      .optional(),
    headers: z.array(headerMatchSchema).max(32).optional(),
  })
  .strict();

export const weightedClusterSchema = z
  .object({ cluster: nameSchema, weight: z.number().int().min(0).max(1_000_000) })
  .strict();

export const routeSchema = z
  .object({
    name: nameSchema,
    match: routeMatchSchema.default(() => ({})),
    cluster: nameSchema.optional(),
    weighted_clusters: z.array(weightedClusterSchema).min(1).max(64).optional(),
    /** Total time for the request, retries included; "0s" turns it off. Overrides the cluster's. */
    timeout: durationMs({ min: 0 }).optional(),
    per_try_timeout: durationMs({ min: 0 }).optional(),
    retries: retryPolicySchema.default(() => ({ ...DEFAULT_RETRY_POLICY_CONFIG, on: [...DEFAULT_RETRY_POLICY_CONFIG.on], statuses: [...DEFAULT_RETRY_POLICY_CONFIG.statuses] })),
    websocket: z.boolean().default(true),
    prefix_rewrite: z
      .string()
      .max(MAX_PATH)
      .regex(/^\/[\x21-\x7e]*$/, "expected a path starting with '/'")
      .optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    if ((r.cluster === undefined) === (r.weighted_clusters === undefined)) {
      ctx.addIssue({ code: "custom", message: "expected exactly one of cluster | weighted_clusters" });
    }
    if (r.weighted_clusters) {
      let total = 0;
      const seen = new Set<string>();
      r.weighted_clusters.forEach((w, i) => {
        total += w.weight;
        if (seen.has(w.cluster)) ctx.addIssue({ code: "custom", path: ["weighted_clusters", i, "cluster"], message: `cluster "${w.cluster}" listed twice` });
        seen.add(w.cluster);
      });
      if (total === 0) ctx.addIssue({ code: "custom", path: ["weighted_clusters"], message: "weights add up to 0; at least one must be positive" });
    }
    if (r.prefix_rewrite !== undefined && r.match.path?.regex !== undefined) {
      ctx.addIssue({ code: "custom", path: ["prefix_rewrite"], message: "prefix_rewrite needs a path prefix or exact match, not a regex" });
    }
  });

export const routesSchema = z
  .array(routeSchema)
  .max(MAX_ROUTES)
  .superRefine((routes, ctx) => {
    const seen = new Set<string>();
    routes.forEach((r, i) => {
      if (seen.has(r.name)) ctx.addIssue({ code: "custom", path: [i, "name"], message: `route name "${r.name}" is used twice` });
      seen.add(r.name);
    });
  });

export type RouteConfigInput = z.input<typeof routeSchema>;
export type RouteConfig = z.output<typeof routeSchema>;
export type RouteMatchConfig = z.output<typeof routeMatchSchema>;
export type HeaderMatchConfig = z.output<typeof headerMatchSchema>;
export type PathMatchConfig = z.output<typeof pathMatchSchema>;

/** Validates a `routes:` list; throws ProxyError("invalid_config") with `routes[i].key: …` paths. */
export function parseRoutes(raw: unknown): RouteConfig[] {
  return parseOrThrow(routesSchema, raw, ["routes"], "routes");
}
