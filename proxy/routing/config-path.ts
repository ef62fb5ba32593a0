/**
 * Key paths in config errors, written the way a user reads the YAML:
 * `routes[2].weighted_clusters[1].cluster`.
 */
import type { z } from "zod";
import { ProxyError } from "../errors.js";

export function keyPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out === "" ? String(p) : `.${String(p)}`;
  }
  return out === "" ? "(root)" : out;
}

/** One line per issue, `path: message`; unknown keys are named in the path. */
export function formatIssues(err: z.ZodError, prefix: readonly PropertyKey[] = []): string[] {
  const lines: string[] = [];
  for (const issue of err.issues) {
    if (issue.code === "unrecognized_keys") {
      for (const k of issue.keys) lines.push(`${keyPath([...prefix, ...issue.path, k])}: unknown key`);
    } else {
      lines.push(`${keyPath([...prefix, ...issue.path])}: ${issue.message}`);
    }
  }
  return lines;
}

/** Validates `raw` with `schema` or throws ProxyError("invalid_config") naming every bad key. */
export function parseOrThrow<S extends z.ZodType>(schema: S, raw: unknown, prefix: readonly PropertyKey[], what: string): z.output<S> {
  const r = schema.safeParse(raw);
  if (!r.success) throw new ProxyError("invalid_config", `invalid ${what}: ${formatIssues(r.error, prefix).join("; ")}`);
  return r.data;
}
