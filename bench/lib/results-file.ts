/**
 * bench/RESULTS.md: a header about the latest run, then one section per
 * benchmark between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`.
 * A run replaces the sections of the benchmarks it ran and keeps the others.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";

const SECTION_RE = /<!-- bench:([a-z0-9-]+) -->\n?([\s\S]*?)<!-- \/bench:\1 -->/g;

/** The section bodies of an existing RESULTS.md, by benchmark name, in file order. */
export function parseSections(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(SECTION_RE)) out.set(m[1]!, m[2]!.replace(/\n+$/, ""));
  return out;
}

export function readSections(path: string): Map<string, string> {
  return existsSync(path) ? parseSections(readFileSync(path, "utf8")) : new Map();
}

/**
 * The whole file: header, then the sections in `order` (known benchmarks),
 * then any other sections found earlier (e.g. of a benchmark since renamed).
 */
export function renderResults(header: string, sections: Map<string, string>, order: readonly string[]): string {
  const names = [...order.filter((n) => sections.has(n)), ...[...sections.keys()].filter((n) => !order.includes(n))];
  const parts = [header.replace(/\n+$/, "")];
  for (const n of names) parts.push(`<!-- bench:${n} -->\n${sections.get(n)!.replace(/\n+$/, "")}\n<!-- /bench:${n} -->`);
  return parts.join("\n\n") + "\n";
}

/** Written to a temp file and renamed, so an interrupted run never leaves half a file. */
export function writeResults(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}
