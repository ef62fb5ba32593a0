/**
 * The `hmac` provider's config block (Kong hmac-auth's settings, plus a
 * replay window and a consumers file in place of Kong's database).
 */
import { z } from "zod";
import { durationMs } from "../duration.js";
import { SIGNED_HEADER_NAME } from "./hmac-params.js";
import { HMAC_ALGORITHMS } from "./hmac-signing.js";

export const HMAC_CONFIG_LIMITS = {
  enforceHeaders: 32,
  clockSkewMaxMs: 3_600_000,
  replayWindowMaxMs: 2 * 3_600_000,
  replayCacheMax: 1_000_000,
  replayCacheDefault: 100_000,
} as const;

/** Kong's default minus hmac-sha1 (SHA-1 is off unless listed). */
export const DEFAULT_HMAC_ALGORITHMS = ["hmac-sha256", "hmac-sha384", "hmac-sha512"] as const;

export const hmacConfigSchema = z.strictObject({
  /** YAML/JSON list of { username, secret | secret_file }, relative to the config's folder. */
  consumers_file: z.string().min(1).max(4096),
  algorithms: z
    .array(z.enum(HMAC_ALGORITHMS, { error: `expected one of ${HMAC_ALGORITHMS.join(", ")}` }))
    .min(1, "list at least one algorithm")
    .max(HMAC_ALGORITHMS.length)
    .refine((a) => new Set(a).size === a.length, "an algorithm is listed twice")
    .default([...DEFAULT_HMAC_ALGORITHMS]),
  clock_skew: durationMs({ min: 1000, max: HMAC_CONFIG_LIMITS.clockSkewMaxMs }).default(300_000),
  enforce_headers: z
    .array(
      z
        .string()
        .max(256)
        .transform((s) => s.toLowerCase())
        .refine((s) => s === "request-line" || SIGNED_HEADER_NAME.test(s), "expected a header name, request-line or @request-target"),
    )
    .max(HMAC_CONFIG_LIMITS.enforceHeaders)
    .default([]),
  validate_request_body: z.boolean().default(false),
  /** "0s" turns the replay check off; absent means twice clock_skew (how long one Date stays acceptable). */
  replay_window: durationMs({ min: 0, max: HMAC_CONFIG_LIMITS.replayWindowMaxMs }).optional(),
  replay_cache_size: z.number().int().min(1).max(HMAC_CONFIG_LIMITS.replayCacheMax).default(HMAC_CONFIG_LIMITS.replayCacheDefault),
  hide_credentials: z.boolean().default(true),
});

export type HmacConfig = z.output<typeof hmacConfigSchema>;
export type HmacConfigInput = z.input<typeof hmacConfigSchema>;
