/**
 * The `basic` provider's config block (Kong basic-auth, with the users in an
 * htpasswd file and a lockout against password guessing). Checked at load
 * without touching the file system; the file itself is read when the
 * provider is created.
 */
import { z } from "zod";
import { durationMs } from "../duration.js";

export const BASIC_LIMITS = {
  pathLength: 4096,
  realmLength: 128,
  verifyCacheMaxMs: 3_600_000,
  verifyCacheEntries: 1_000_000,
  failures: 1000,
  maxTracked: 1_000_000,
  maxDelayMs: 60_000,
} as const;

export const BASIC_DEFAULTS = {
  realm: "mesh",
  verifyCacheMs: 300_000,
  verifyCacheEntries: 10_000,
  reloadIntervalMs: 5_000,
  lockout: {
    slow_after: 3,
    slow_delay: 1_000,
    max_delay: 5_000,
    lock_after: 10,
    lock_time: 900_000,
    window: 900_000,
    max_tracked: 100_000,
  },
} as const;

const count = (name: string, def: number) =>
  z
    .number({ error: `${name} must be a whole number from 0 to ${BASIC_LIMITS.failures}` })
    .int(`${name} must be a whole number`)
    .min(0)
    .max(BASIC_LIMITS.failures)
    .default(def);

const d = BASIC_DEFAULTS.lockout;

export const lockoutSchema = z.strictObject({
  /** Failures (per user and per client address) before answers slow down. */
  slow_after: count("slow_after", d.slow_after),
  /** Added per failure beyond slow_after ("0s": no slow-down). */
  slow_delay: durationMs({ min: 0, max: BASIC_LIMITS.maxDelayMs }).default(d.slow_delay),
  max_delay: durationMs({ min: 0, max: BASIC_LIMITS.maxDelayMs }).default(d.max_delay),
  /** Failures that lock the user / the address (0: never lock). */
  lock_after: count("lock_after", d.lock_after),
  lock_time: durationMs({ min: 1000 }).default(d.lock_time),
  /** Failures older than this are forgotten. */
  window: durationMs({ min: 1000 }).default(d.window),
  max_tracked: z.number().int().min(1).max(BASIC_LIMITS.maxTracked).default(d.max_tracked),
});

export const basicConfigSchema = z.strictObject({
  /** user:hash per line (bcrypt or scrypt); relative to the config file's folder. */
  htpasswd_file: z.string().min(1, "htpasswd_file is required").max(BASIC_LIMITS.pathLength),
  realm: z
    .string()
    .min(1)
    .max(BASIC_LIMITS.realmLength)
    // eslint-disable-next-line no-control-regex
    .refine((r) => !/["\\\u0000-\u001f\u007f]/.test(r), 'a realm cannot hold ", \\ or control characters')
    .default(BASIC_DEFAULTS.realm),
  /** Remove Authorization before forwarding (Kong's hide_credentials). */
  hide_credentials: z.boolean().default(true),
  /** How long a successful check is remembered ("0s": never). */
  verify_cache: durationMs({ min: 0, max: BASIC_LIMITS.verifyCacheMaxMs }).default(BASIC_DEFAULTS.verifyCacheMs),
  verify_cache_entries: z.number().int().min(1).max(BASIC_LIMITS.verifyCacheEntries).default(BASIC_DEFAULTS.verifyCacheEntries),
  /** How often the file is looked at, besides file-change events. */
  reload_interval: durationMs({ min: 100, max: 3_600_000 }).default(BASIC_DEFAULTS.reloadIntervalMs),
  lockout: lockoutSchema.prefault({}),
});

export type BasicConfig = z.output<typeof basicConfigSchema>;
export type BasicConfigInput = z.input<typeof basicConfigSchema>;
