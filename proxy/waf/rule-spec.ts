/**
 * The rule file format, as zod schemas (docs/waf.md is the user's guide).
 *
 *   defaults: { tags, targets, transforms, phase, severity, paranoia }   # optional, per file
 *   rules:
 *     - id: 942100
 *       msg: SQL injection (tokenizer)
 *       paranoia: 1                      # 1..4, default 1
 *       severity: critical               # critical 5, error 4, warning 3, notice 2
 *       phase: body                      # headers | body (default body)
 *       tags: [attack-sqli]
 *       targets: [args, args_names, "headers:user-agent", "!args:password", "count:args"]
 *       transforms: [url_decode_uni, lowercase]
 *       rx: '(?i)union\s+select'         # exactly one operator
 *       negate: false
 *       multi_match: false               # test after every transformation step too
 *       chain: [ { targets, transforms, <operator> } ]   # all must also match
 */
import { z } from "zod";
import { OPERATOR_KEYS, type OperatorKey } from "./operators.js";

export const SEVERITY_SCORES = { critical: 5, error: 4, warning: 3, notice: 2 } as const;
export type Severity = keyof typeof SEVERITY_SCORES;

const nonEmpty = z.string().min(1);

const operatorShape = {
  rx: nonEmpty.optional(),
  phrases: z.array(nonEmpty).min(1).optional(),
  contains: nonEmpty.optional(),
  begins: nonEmpty.optional(),
  ends: nonEmpty.optional(),
  equals: z.string().optional(),
  within: z.array(z.string()).min(1).optional(),
  gt: z.number().optional(),
  ge: z.number().optional(),
  lt: z.number().optional(),
  le: z.number().optional(),
  eq: z.number().optional(),
  byte_range: nonEmpty.optional(),
  validate_url_encoding: z.literal(true).optional(),
  validate_utf8: z.literal(true).optional(),
  sqli: z.literal(true).optional(),
  xss: z.literal(true).optional(),
};

const conditionShape = {
  targets: z.array(nonEmpty).min(1),
  transforms: z.array(nonEmpty).default([]),
  negate: z.boolean().default(false),
  multi_match: z.boolean().default(false),
  ...operatorShape,
};

/** The one operator key a condition carries (zod refinement keeps it to exactly one). */
export function operatorOf(c: Readonly<Record<string, unknown>>): OperatorKey {
  return OPERATOR_KEYS.find((k) => c[k] !== undefined)!;
}

function oneOperator(c: Readonly<Record<string, unknown>>, ctx: z.RefinementCtx): void {
  const used = OPERATOR_KEYS.filter((k) => c[k] !== undefined);
  if (used.length !== 1) {
    ctx.addIssue({
      code: "custom",
      message: used.length === 0 ? `needs one operator (${OPERATOR_KEYS.join(", ")})` : `has several operators (${used.join(", ")}); use one, or a chain`,
    });
  }
}

export const conditionSchema = z.object(conditionShape).strict().superRefine(oneOperator);
export type ConditionSpec = z.infer<typeof conditionSchema>;

export const ruleSchema = z
  .object({
    id: z.number().int().min(1).max(999_999_999),
    msg: nonEmpty,
    phase: z.enum(["headers", "body"]).default("body"),
    paranoia: z.number().int().min(1).max(4).default(1),
    severity: z.enum(["critical", "error", "warning", "notice"]).default("critical"),
    tags: z.array(nonEmpty).default([]),
    chain: z.array(conditionSchema).max(8).default([]),
    ...conditionShape,
  })
  .strict()
  .superRefine(oneOperator);
export type RuleSpec = z.infer<typeof ruleSchema>;

/** Per-file defaults merged into every rule of the file (tags are added, the rest used when the rule has none). */
export const defaultsSchema = z
  .object({
    tags: z.array(nonEmpty).optional(),
    targets: z.array(nonEmpty).min(1).optional(),
    transforms: z.array(nonEmpty).optional(),
    phase: z.enum(["headers", "body"]).optional(),
    severity: z.enum(["critical", "error", "warning", "notice"]).optional(),
    paranoia: z.number().int().min(1).max(4).optional(),
  })
  .strict();
export type RuleDefaults = z.infer<typeof defaultsSchema>;

export const ruleFileSchema = z
  .object({
    defaults: defaultsSchema.optional(),
    rules: z.array(z.record(z.string(), z.unknown())).min(1),
  })
  .strict();
