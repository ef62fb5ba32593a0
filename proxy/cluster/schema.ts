/**
 * The `clusters:` block: zod schemas (snake_case, strict, bounded) and the
 * inferred config types. Defaults are Envoy's where Envoy has one.
 */
import { z } from "zod";
import { isValidSpiffeId, MAX_SPIFFE_ID_BYTES } from "../../pki/spiffe-id.js";
import { durationMs } from "../duration.js";
import { parseOrThrow } from "../routing/config-path.js";
import { nameSchema } from "../routing/schema.js";
import { MAX_ADDRESS_LENGTH, parseEndpointAddress } from "./endpoint.js";
import { MAX_ENDPOINTS } from "./endpoints-file.js";
import { outlierDetectionSchema } from "./outlier.js";

export const MAX_CLUSTERS = 1000;

const endpointSchema = z
  .string()
  .max(MAX_ADDRESS_LENGTH)
  .transform((text, ctx) => {
    const r = parseEndpointAddress(text);
    if (typeof r === "string") {
      ctx.addIssue({ code: "custom", message: r });
      return z.NEVER;
    }
    return r.address;
  });

const limit = (dflt: number) => z.number().int().min(1).max(1_000_000).default(dflt);

export const retryBudgetSchema = z
  .object({
    percent: z.number().min(0).max(100).default(20),
    min_retry_concurrency: z.number().int().min(0).max(100_000).default(3),
  })
  .strict();

export const clusterSchema = z
  .object({
    name: nameSchema,
    endpoints: z
      .array(endpointSchema)
      .min(1)
      .max(MAX_ENDPOINTS)
      .superRefine((list, ctx) => {
        const seen = new Set<string>();
        list.forEach((a, i) => {
          if (seen.has(a)) ctx.addIssue({ code: "custom", path: [i], message: `duplicate endpoint ${a}` });
          seen.add(a);
        });
      })
      .optional(),
    endpoints_file: z.string().min(1).max(4096).optional(),
    /** The identity the upstream sidecar must present over mTLS; absent = plain HTTP (the local app). */
    spiffe_id: z
      .string()
      .max(MAX_SPIFFE_ID_BYTES)
      .refine(isValidSpiffeId, "expected a SPIFFE ID such as spiffe://example.org/ns/demo/sa/backend")
      .optional(),
    lb: z.enum(["round_robin", "least_request"]).default("round_robin"),
    connect_timeout: durationMs({ min: 1, max: 300_000 }).default(5_000),
    /** Total per request, retries included; "0s" = none. Routes may override. */
    timeout: durationMs({ min: 0 }).default(15_000),
    /** Per attempt; "0s" (the default) = only the total timeout applies. */
    per_try_timeout: durationMs({ min: 0 }).default(0),
    max_connections: limit(1024),
    max_pending_requests: limit(1024),
    max_requests: limit(1024),
    retry_budget: retryBudgetSchema.default(() => ({ percent: 20, min_retry_concurrency: 3 })),
    /** Absent = no outlier detection (as in Envoy). */
    outlier_detection: outlierDetectionSchema.optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if ((c.endpoints === undefined) === (c.endpoints_file === undefined)) {
      ctx.addIssue({ code: "custom", message: "expected exactly one of endpoints | endpoints_file" });
    }
  });

export const clustersSchema = z
  .array(clusterSchema)
  .max(MAX_CLUSTERS)
  .superRefine((clusters, ctx) => {
    const seen = new Set<string>();
    clusters.forEach((c, i) => {
      if (seen.has(c.name)) ctx.addIssue({ code: "custom", path: [i, "name"], message: `cluster name "${c.name}" is used twice` });
      seen.add(c.name);
    });
  });

export type ClusterConfigInput = z.input<typeof clusterSchema>;
export type ClusterConfig = z.output<typeof clusterSchema>;

/** Validates a `clusters:` list; throws ProxyError("invalid_config") with `clusters[i].key: …` paths. */
export function parseClusters(raw: unknown): ClusterConfig[] {
  return parseOrThrow(clustersSchema, raw, ["clusters"], "clusters");
}
