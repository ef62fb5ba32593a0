/**
 * The CRS regression corpus (../shared/corpora): loading it, and tallying
 * block rates per attack family and paranoia level beside the reference
 * verdicts of nginx + ModSecurity + CRS 4.28 and 3.3.4.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export interface CorpusEntry {
  readonly id: string;
  readonly rule: number;
  readonly family: string;
  /** Paranoia level of the CRS rule the test is about (0 when the corpus has none). */
  readonly pl: number;
  readonly expect: "detect" | "quiet";
  readonly desc: string;
  readonly raw: Buffer;
  readonly crs4: number;
  readonly crs3: number;
}

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/** The corpus file: $WAF_CORPUS, or ../shared/corpora/crs-v4.28.0-requests.jsonl beside the repository. */
export function corpusPath(): string {
  const env = process.env.WAF_CORPUS;
  if (env) return env;
  const candidates = [join(REPO_ROOT, "../shared/corpora/crs-v4.28.0-requests.jsonl"), join(REPO_ROOT, "corpora/crs-v4.28.0-requests.jsonl")];
  for (const c of candidates) if (existsSync(c)) return c;
  throw new Error(`WAF corpus not found (looked at ${candidates.join(", ")}); set WAF_CORPUS to its path`);
}

export function loadCorpus(path = corpusPath()): CorpusEntry[] {
  const out: CorpusEntry[] = [];
  for (const line of readFileSync(path, "utf8").split("\n")) {
    if (line.trim() === "") continue;
    const o = JSON.parse(line) as Record<string, unknown>;
    out.push({
      id: String(o.id),
      rule: Number(o.rule),
      family: String(o.family),
      pl: typeof o.pl === "number" ? o.pl : 0,
      expect: o.expect === "detect" ? "detect" : "quiet",
      desc: String(o.desc ?? ""),
      raw: Buffer.from(String(o.raw), "base64"),
      crs4: Number(o.modsec_crs4_pl1),
      crs3: Number(o.modsec_crs3_pl1),
    });
  }
  return out;
}

/** The corpus README's rule: blocked = any status but 200 and 404. */
export const isBlockedStatus = (status: number): boolean => status !== 200 && status !== 404;

export interface TallyRow {
  readonly family: string;
  readonly pl: number;
  readonly expect: "detect" | "quiet";
  readonly n: number;
  readonly ours: number;
  readonly crs4: number;
  readonly crs3: number;
}

/** Block counts per (family, pl, expect); `blocked[i]` is our verdict for entries[i]. */
export function tally(entries: readonly CorpusEntry[], blocked: readonly boolean[]): TallyRow[] {
  const rows = new Map<string, { family: string; pl: number; expect: "detect" | "quiet"; n: number; ours: number; crs4: number; crs3: number }>();
  entries.forEach((e, i) => {
    const key = `${e.family}|${e.pl}|${e.expect}`;
    let r = rows.get(key);
    if (!r) rows.set(key, (r = { family: e.family, pl: e.pl, expect: e.expect, n: 0, ours: 0, crs4: 0, crs3: 0 }));
    r.n++;
    if (blocked[i]) r.ours++;
    if (isBlockedStatus(e.crs4)) r.crs4++;
    if (isBlockedStatus(e.crs3)) r.crs3++;
  });
  return [...rows.values()].sort((a, b) => a.family.localeCompare(b.family) || a.pl - b.pl || a.expect.localeCompare(b.expect));
}

export interface Summary {
  readonly label: string;
  readonly n: number;
  readonly ours: number;
  readonly crs4: number;
  readonly crs3: number;
}

/** The README's headline sets: detect at PL1, detect at PL2, quiet at PL1. */
export function headline(rows: readonly TallyRow[]): Summary[] {
  const sum = (label: string, pick: (r: TallyRow) => boolean): Summary => {
    const sel = rows.filter(pick);
    return {
      label,
      n: sel.reduce((a, r) => a + r.n, 0),
      ours: sel.reduce((a, r) => a + r.ours, 0),
      crs4: sel.reduce((a, r) => a + r.crs4, 0),
      crs3: sel.reduce((a, r) => a + r.crs3, 0),
    };
  };
  return [
    sum("detect, rule at PL1", (r) => r.expect === "detect" && r.pl === 1),
    sum("detect, rule at PL2", (r) => r.expect === "detect" && r.pl === 2),
    sum("quiet, rule at PL1", (r) => r.expect === "quiet" && r.pl === 1),
  ];
}

export const pct = (a: number, n: number): string => (n === 0 ? "–" : `${((100 * a) / n).toFixed(1)} %`);
