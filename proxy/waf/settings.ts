/**
 * The `waf` block of a listener's filter list, validated with zod (errors
 * name the key path like every other config error), and where the bundled
 * rules live.
 */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { DEFAULT_SETTINGS, type WafSettings } from "./engine.js";
import { parseIdRange } from "./exclusions.js";
import { DEFAULT_LIMITS } from "./types.js";

const mode = z.enum(["block", "detect", "off"]);
const idRange = z.union([z.number().int().positive(), z.string()]).transform((v, ctx) => {
  try {
    return parseIdRange(v);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: (err as Error).message });
    return z.NEVER;
  }
});
const scope = {
  route: z.string().min(1).optional(),
  path_prefix: z.string().startsWith("/").optional(),
};

export const wafConfigSchema = z
  .object({
    /** Rules directory or file; relative to the config file; default: the bundled waf-rules/. */
    rules: z.string().min(1).optional(),
    mode: mode.default("block"),
    paranoia: z.number().int().min(1).max(4).default(1),
    detection_paranoia: z.number().int().min(1).max(4).optional(),
    threshold: z.number().int().min(1).max(1000).default(5),
    limits: z
      .object({
        body_bytes: z.number().int().min(0).max(64 * 1024 * 1024).default(DEFAULT_LIMITS.bodyBytes),
        args: z.number().int().min(1).max(100_000).default(DEFAULT_LIMITS.args),
        depth: z.number().int().min(1).max(1000).default(DEFAULT_LIMITS.depth),
        value_bytes: z.number().int().min(1).max(64 * 1024 * 1024).default(DEFAULT_LIMITS.valueBytes),
        parts: z.number().int().min(1).max(10_000).default(DEFAULT_LIMITS.parts),
        on_exceed: z.enum(["reject", "partial"]).default("reject"),
      })
      .strict()
      .prefault({}),
    exclusions: z
      .array(
        z
          .object({
            ...scope,
            remove_rules: z.array(idRange).optional(),
            remove_tags: z.array(z.string().min(1)).optional(),
            remove_targets: z.array(z.object({ rule: idRange, target: z.string().min(1) }).strict()).optional(),
          })
          .strict(),
      )
      .default([]),
    overrides: z.array(z.object({ ...scope, mode }).strict()).default([]),
  })
  .strict()
  .refine((c) => c.detection_paranoia === undefined || c.detection_paranoia >= c.paranoia, {
    message: "detection_paranoia must be at least paranoia",
    path: ["detection_paranoia"],
  });
export type WafConfig = z.infer<typeof wafConfigSchema>;

/** Engine settings from a validated config block. */
export function settingsFrom(c: WafConfig): WafSettings {
  return {
    ...DEFAULT_SETTINGS,
    mode: c.mode,
    paranoia: c.paranoia,
    detectionParanoia: c.detection_paranoia ?? c.paranoia,
    threshold: c.threshold,
    limits: { bodyBytes: c.limits.body_bytes, args: c.limits.args, depth: c.limits.depth, valueBytes: c.limits.value_bytes, parts: c.limits.parts },
    onLimit: c.limits.on_exceed,
    exclusions: c.exclusions.map((e) => ({
      route: e.route,
      pathPrefix: e.path_prefix,
      removeRules: e.remove_rules,
      removeTags: e.remove_tags,
      removeTargets: e.remove_targets?.map((t) => ({ rules: t.rule, target: t.target })),
    })),
    overrides: c.overrides.map((o) => ({ route: o.route, pathPrefix: o.path_prefix, mode: o.mode })),
  };
}

/** The rule files shipped with the project (waf-rules/ at the package root). */
export function bundledRulesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, "waf-rules");
    if (existsSync(join(dir, "package.json")) && existsSync(candidate)) return candidate;
    dir = resolve(dir, "..");
  }
  return resolve(dirname(fileURLToPath(import.meta.url)), "../../../waf-rules");
}
