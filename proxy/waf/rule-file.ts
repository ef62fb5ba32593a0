/**
 * Reads rule files (YAML) into compiled rules. Every problem is reported
 * with its file and line: YAML syntax, a schema violation (the line of the
 * offending key), a pattern that does not compile or is not linear, an
 * unknown target or transformation, a duplicate id.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { LineCounter, isNode, parseDocument, type Document } from "yaml";
import type { z } from "zod";
import { compileRule, type CompiledRule } from "./compile.js";
import { RuleCompileError, WafError } from "./errors.js";
import { ruleFileSchema, ruleSchema, type RuleDefaults } from "./rule-spec.js";

/** Largest rule file read (a guard against pointing the loader at the wrong file). */
const MAX_RULE_FILE_BYTES = 4 * 1024 * 1024;

type Path = readonly (string | number)[];

class Located {
  constructor(
    private readonly file: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  /** "file:line" of the deepest node that exists on path. */
  at(path: Path): string {
    for (let n = path.length; n >= 0; n--) {
      const node = n === 0 ? this.doc.contents : this.doc.getIn(path.slice(0, n), true);
      if (isNode(node) && node.range) return `${this.file}:${this.lines.linePos(node.range[0]).line}`;
    }
    return this.file;
  }

  error(path: Path, message: string): WafError {
    return new WafError("rule_invalid", message, this.at(path));
  }

  /** The first issue of a zod failure, at its line. */
  zodError(base: Path, err: z.ZodError): WafError {
    const issue = err.issues[0]!;
    const path = [...base, ...(issue.path as (string | number)[])];
    const key = issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
    return this.error(path, `${key}${issue.message}`);
  }
}

/** Parses one rule file's text. `file` is only used in messages. */
export function parseRuleFile(text: string, file: string): CompiledRule[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const loc = new Located(file, doc, lines);
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = lines.linePos(e.pos[0]).line;
    throw new WafError("rule_invalid", `YAML: ${e.message.split("\n")[0]}`, `${file}:${line}`);
  }
  const parsed = ruleFileSchema.safeParse(doc.toJS({ maxAliasCount: 100 }));
  if (!parsed.success) throw loc.zodError([], parsed.error);
  const defaults = parsed.data.defaults ?? {};
  const out: CompiledRule[] = [];
  parsed.data.rules.forEach((raw, i) => {
    const r = ruleSchema.safeParse(withDefaults(raw, defaults));
    if (!r.success) throw loc.zodError(["rules", i], r.error);
    try {
      out.push(compileRule(r.data, loc.at(["rules", i])));
    } catch (err) {
      if (err instanceof WafError) throw err;
      const where = err instanceof RuleCompileError ? ["rules", i, ...err.path] : ["rules", i];
      throw loc.error(where, `rule ${r.data.id}: ${(err as Error).message}`);
    }
  });
  return out;
}

function withDefaults(raw: Record<string, unknown>, d: RuleDefaults): Record<string, unknown> {
  const r: Record<string, unknown> = { ...raw };
  if (d.tags) r.tags = [...d.tags, ...(Array.isArray(raw.tags) ? (raw.tags as unknown[]) : [])];
  for (const k of ["targets", "transforms", "phase", "severity", "paranoia"] as const) {
    if (r[k] === undefined && d[k] !== undefined) r[k] = d[k];
  }
  return r;
}

/**
 * Loads a rules directory (every *.yaml / *.yml file, in name order) or a
 * single file. Ids must be unique across all of them.
 */
export function loadRules(path: string): CompiledRule[] {
  let files: string[];
  try {
    files = statSync(path).isDirectory()
      ? readdirSync(path)
          .filter((f) => /\.ya?ml$/.test(f))
          .sort()
          .map((f) => join(path, f))
      : [path];
  } catch (err) {
    throw new WafError("rules_not_found", `cannot read WAF rules at ${path}: ${(err as Error).message}`);
  }
  if (files.length === 0) throw new WafError("rules_not_found", `no *.yaml rule files in ${path}`);
  const rules: CompiledRule[] = [];
  const seen = new Map<number, string>();
  for (const f of files) {
    const size = statSync(f).size;
    if (size > MAX_RULE_FILE_BYTES) throw new WafError("rule_invalid", `rule file larger than ${MAX_RULE_FILE_BYTES} bytes`, f);
    for (const r of parseRuleFile(readFileSync(f, "utf8"), f)) {
      const prev = seen.get(r.id);
      if (prev !== undefined) throw new WafError("rule_invalid", `duplicate rule id ${r.id} (also at ${prev})`, r.location);
      seen.set(r.id, r.location);
      rules.push(r);
    }
  }
  return rules;
}

/** The short file name of a rule's location, for listings. */
export function ruleFileOf(r: CompiledRule): string {
  return basename(r.location.replace(/:\d+$/, ""));
}
