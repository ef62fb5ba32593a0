/**
 * The `rate_limit` filter: local token buckets (Envoy's local_ratelimit), one
 * bucket per distinct key value. A request needs a token from every bucket
 * that applies to its route; tokens are taken only when all of them have one,
 * so a refused request does not drain the other buckets. Refusal: 429 with
 * Retry-After and Envoy's x-ratelimit-* headers.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { KeyedTokenBuckets, type BucketState } from "./token-bucket.js";
import type { Denial, FilterDeps, FilterFactory, FilterRequest, HttpFilter } from "./types.js";

export const RATE_LIMIT_LIMITS = {
  buckets: 64,
  routesPerBucket: 256,
  nameLength: 128,
  requestsPerSecond: 1_000_000,
  burst: 1_000_000,
  maxKeys: 1_000_000,
  defaultMaxKeys: 10_000,
  /** A key value longer than this is tracked by its SHA-256 (bounds memory per key). */
  keyLength: 256,
} as const;

const HEADER_KEY = /^header:([!#$%&'*+.^_`|~0-9A-Za-z-]{1,256})$/;
const KEY_HELP = "global, route, peer, remote_address or header:<name>";

const bucketSchema = z.strictObject({
  name: z
    .string()
    .min(1)
    .max(RATE_LIMIT_LIMITS.nameLength)
    .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, "a bucket name is letters, digits and . _ : -"),
  routes: z
    .array(z.string().min(1).max(256))
    .min(1, "omit routes to apply the bucket to every route")
    .max(RATE_LIMIT_LIMITS.routesPerBucket)
    .optional(),
  requests_per_second: z
    .number({ error: "requests_per_second must be a number > 0" })
    .positive("requests_per_second must be > 0")
    .max(RATE_LIMIT_LIMITS.requestsPerSecond),
  burst: z
    .number({ error: "burst must be a whole number >= 1" })
    .int("burst must be a whole number >= 1")
    .min(1, "burst must be a whole number >= 1")
    .max(RATE_LIMIT_LIMITS.burst)
    .optional(),
  key: z
    .string()
    .max(300)
    .refine((k) => ["global", "route", "peer", "remote_address"].includes(k) || HEADER_KEY.test(k), {
      message: `key must be ${KEY_HELP}`,
    })
    .default("global"),
  max_keys: z.number().int().min(1).max(RATE_LIMIT_LIMITS.maxKeys).default(RATE_LIMIT_LIMITS.defaultMaxKeys),
});

export const rateLimitConfigSchema = z
  .strictObject({
    buckets: z
      .array(bucketSchema)
      .min(1, "list at least one bucket")
      .max(RATE_LIMIT_LIMITS.buckets, `at most ${RATE_LIMIT_LIMITS.buckets} buckets`),
  })
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.buckets.forEach((b, i) => {
      if (seen.has(b.name)) {
        ctx.addIssue({ code: "custom", path: ["buckets", i, "name"], message: `bucket name "${b.name}" is used twice` });
      }
      seen.add(b.name);
    });
  });

export type RateLimitConfig = z.output<typeof rateLimitConfigSchema>;
export type RateLimitConfigInput = z.input<typeof rateLimitConfigSchema>;

type KeyOf = (req: FilterRequest) => string;

interface Limiter {
  readonly name: string;
  readonly keyKind: string;
  readonly keyOf: KeyOf;
  readonly buckets: KeyedTokenBuckets;
}

function boundKey(v: string): string {
  return v.length <= RATE_LIMIT_LIMITS.keyLength ? v : "sha256:" + createHash("sha256").update(v).digest("base64");
}

/** How a bucket names the request; a missing value (no peer, no header) is the shared key "". */
function keyFunction(key: string): KeyOf {
  switch (key) {
    case "global":
      return () => "";
    case "route":
      return (req) => req.route;
    case "peer":
      return (req) => req.peer?.principal ?? "";
    case "remote_address":
      // One client on a dual-stack socket shows as ::ffff:a.b.c.d; count it as a.b.c.d.
      return (req) => {
        const a = req.remoteAddress;
        return a.startsWith("::ffff:") && a.includes(".") ? a.slice(7) : a;
      };
  }
  const name = HEADER_KEY.exec(key)![1]!.toLowerCase();
  return (req) => {
    const v = req.headers[name];
    return boundKey(Array.isArray(v) ? v.join(",") : (v ?? ""));
  };
}

export class RateLimitFilter implements HttpFilter {
  readonly name = "rate_limit";
  /** Buckets that apply to a route name listed in some bucket's routes. */
  private readonly byRoute = new Map<string, Limiter[]>();
  /** Buckets that apply to every other route (those without routes). */
  private readonly everyRoute: Limiter[] = [];
  private readonly scratch: BucketState[] = [];

  constructor(
    config: RateLimitConfig,
    private readonly deps: FilterDeps,
  ) {
    const limiters = config.buckets.map((b) => ({
      routes: b.routes,
      limiter: {
        name: b.name,
        keyKind: b.key.startsWith("header:") ? "header" : b.key,
        keyOf: keyFunction(b.key),
        buckets: new KeyedTokenBuckets({
          ratePerSecond: b.requests_per_second,
          burst: b.burst ?? Math.max(1, Math.ceil(b.requests_per_second)),
          maxKeys: b.max_keys,
        }),
      } satisfies Limiter,
    }));
    const routeNames = new Set(limiters.flatMap((l) => l.routes ?? []));
    for (const route of routeNames) {
      this.byRoute.set(
        route,
        limiters.filter((l) => !l.routes || l.routes.includes(route)).map((l) => l.limiter),
      );
    }
    for (const l of limiters) if (!l.routes) this.everyRoute.push(l.limiter);
  }

  onRequest(req: FilterRequest): Denial | undefined {
    const limiters = this.byRoute.get(req.route) ?? this.everyRoute;
    if (limiters.length === 0) return undefined;
    const now = this.deps.clock().getTime();
    const states = this.scratch;
    let worst = -1;
    let wait = 0;
    for (let i = 0; i < limiters.length; i++) {
      const l = limiters[i]!;
      const b = l.buckets.bucket(l.keyOf(req), now);
      states[i] = b;
      if (!l.buckets.hasToken(b)) {
        const w = l.buckets.waitSeconds(b);
        if (worst < 0 || w > wait) {
          worst = i;
          wait = w;
        }
      }
    }
    if (worst < 0) {
      for (let i = 0; i < limiters.length; i++) limiters[i]!.buckets.take(states[i]!);
      return undefined;
    }
    return this.denial(limiters[worst]!, wait);
  }

  private denial(l: Limiter, waitSeconds: number): Denial {
    // Whole seconds, at least 1, rounded up so a client that waits is served.
    const retry = String(Math.max(1, Math.ceil(waitSeconds - 1e-9)));
    return {
      status: 429,
      code: "rate_limited",
      reason: `rate limit "${l.name}" exceeded`,
      outcome: "deny",
      headers: {
        "retry-after": retry,
        "x-ratelimit-limit": String(l.buckets.burst),
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": retry,
      },
      // The key value is not recorded: with key header:<name> it may be a credential.
      details: { bucket: l.name, key: l.keyKind },
    };
  }
}

export const rateLimitFilter: FilterFactory<RateLimitConfig> = {
  name: "rate_limit",
  schema: rateLimitConfigSchema,
  create: (config, deps) => new RateLimitFilter(config, deps),
};
