/**
 * waf-corpus tables: goals, headline sets, family × rule PL × expect, the
 * replay itself, and where the proxy and the in-process engine disagree.
 */
import { fmt, mdTable } from "./lib/stats.js";
import type { Row } from "./lib/types.js";
import { headline, isBlockedStatus, pct, type CorpusEntry, type Summary, type TallyRow } from "./lib/waf-corpus.js";
import type { InprocResult } from "./waf-corpus-inproc.js";
import { outcomeDetail, outcomeLabel, type ReplayOutcome } from "./waf-corpus-replay.js";

/** Goals at paranoia 1 (CRS 4.28's own figures on the same requests). */
export const GOAL_DETECT_PL1 = 0.975;
export const GOAL_QUIET_PL1 = 0.23;

export interface LevelRun {
  paranoia: number;
  outcomes: ReplayOutcome[];
  blocked: boolean[];
  rows: TallyRow[];
  seconds: number;
  inproc: InprocResult;
}

const status = (ok: boolean): "PASS" | "FAIL" => (ok ? "PASS" : "FAIL");
const ratio = (s: Summary): number => (s.n === 0 ? Number.NaN : s.ours / s.n);
const family = (f: string): string => f.replace(/^REQUEST-/, "");
/** A count: no decimals however small. */
const int = (n: number): string => fmt(n, 0);

export function goalChecks(pl1: LevelRun): { detect: Summary; quiet: Summary; detectOk: boolean; quietOk: boolean } {
  const [detect, , quiet] = headline(pl1.rows) as [Summary, Summary, Summary];
  return { detect, quiet, detectOk: ratio(detect) >= GOAL_DETECT_PL1, quietOk: ratio(quiet) <= GOAL_QUIET_PL1 };
}

export function goalTable(pl1: LevelRun): string {
  const g = goalChecks(pl1);
  return mdTable(
    ["goal (paranoia 1, blocking)", "target", "ours", "CRS 4.28", "CRS 3.3.4", "result"],
    [
      [`\`detect\` requests of PL1 rules blocked (${int(g.detect.n)})`, `≥ ${GOAL_DETECT_PL1 * 100} %`, pct(g.detect.ours, g.detect.n), pct(g.detect.crs4, g.detect.n), pct(g.detect.crs3, g.detect.n), `**${status(g.detectOk)}**`],
      [`\`quiet\` requests of PL1 rules blocked (${int(g.quiet.n)})`, `≤ ${GOAL_QUIET_PL1 * 100} %`, pct(g.quiet.ours, g.quiet.n), pct(g.quiet.crs4, g.quiet.n), pct(g.quiet.crs3, g.quiet.n), `**${status(g.quietOk)}**`],
    ],
  );
}

export function goalRows(pl1: LevelRun): Row[] {
  const g = goalChecks(pl1);
  return [
    { metric: "paranoia 1: detect requests of PL1 rules blocked", value: pct(g.detect.ours, g.detect.n), goal: `≥ ${GOAL_DETECT_PL1 * 100} %`, status: status(g.detectOk) },
    { metric: "paranoia 1: quiet requests of PL1 rules blocked", value: pct(g.quiet.ours, g.quiet.n), goal: `≤ ${GOAL_QUIET_PL1 * 100} %`, status: status(g.quietOk) },
  ];
}

/** The headline sets, one column per paranoia level run, beside the reference columns (both references ran at PL1). */
export function headlineTable(levels: readonly LevelRun[]): string {
  const per = levels.map((l) => headline(l.rows));
  const base = per[0]!;
  return mdTable(
    ["set", "requests", ...levels.map((l) => `ours, paranoia ${l.paranoia}`), "ModSecurity + CRS 4.28 (PL1)", "ModSecurity + CRS 3.3.4 (PL1)"],
    base.map((s, i) => [s.label, int(s.n), ...per.map((h) => pct(h[i]!.ours, h[i]!.n)), pct(s.crs4, s.n), pct(s.crs3, s.n)]),
  );
}

export function familyTable(levels: readonly LevelRun[]): string {
  const keyOf = (r: TallyRow) => `${r.family}|${r.pl}|${r.expect}`;
  const byLevel = levels.map((l) => new Map(l.rows.map((r) => [keyOf(r), r])));
  return mdTable(
    ["family", "rule PL", "expect", "n", ...levels.map((l) => `ours, paranoia ${l.paranoia}`), "CRS 4.28", "CRS 3.3.4"],
    levels[0]!.rows.map((r) => [family(r.family), String(r.pl), r.expect, int(r.n), ...byLevel.map((m) => pct(m.get(keyOf(r))?.ours ?? 0, r.n)), pct(r.crs4, r.n), pct(r.crs3, r.n)]),
  );
}

/** How many requests got each outcome, most frequent first. */
function outcomeCounts(outcomes: readonly ReplayOutcome[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const o of outcomes) m.set(outcomeLabel(o), (m.get(outcomeLabel(o)) ?? 0) + 1);
  return new Map([...m].sort((a, b) => b[1] - a[1]));
}

export function replayTable(levels: readonly LevelRun[], concurrency: number): string {
  return mdTable(
    ["paranoia", "requests", "seconds", "requests/s", `outcomes (${concurrency} connections at a time, one request each)`],
    levels.map((l) => [
      String(l.paranoia),
      int(l.outcomes.length),
      fmt(l.seconds, 1),
      fmt(l.outcomes.length / l.seconds),
      [...outcomeCounts(l.outcomes)].map(([k, n]) => `${k}: ${int(n)}`).join(", "),
    ]),
  );
}

export const noResponse = (l: LevelRun): { closed: number; reset: number; timeout: number } => ({
  closed: l.outcomes.filter((o) => o.kind === "closed").length,
  reset: l.outcomes.filter((o) => o.kind === "reset").length,
  timeout: l.outcomes.filter((o) => o.kind === "timeout").length,
});

/** Where the proxy's status and the in-process verdict disagree. */
export function differences(l: LevelRun): number[] {
  const out: number[] = [];
  l.blocked.forEach((b, i) => {
    if (b !== l.inproc.verdicts[i]!.blocked) out.push(i);
  });
  return out;
}

function whyClass(why: string, blocked: boolean): string {
  if (why.startsWith("waf:")) return blocked ? "WAF blocks" : why === "waf:" ? "WAF passes (no rule)" : "WAF passes (below threshold)";
  return why.replace(":", " ");
}

/** Control and non-ASCII bytes as \xNN. */
function printable(s: string): string {
  let out = "";
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    out += (c < 0x20 || c >= 0x7f) && ch !== "⏎" ? `\\x${c.toString(16).padStart(2, "0")}` : ch;
  }
  return out;
}

/** First request line (and the start of the body), printable, for a table cell. */
export function requestSummary(raw: Buffer, max = 110): string {
  const s = raw.toString("latin1");
  const line = s.slice(0, Math.max(0, s.search(/\r?\n/))) || s;
  const end = s.indexOf("\r\n\r\n");
  const body = end < 0 ? "" : s.slice(end + 4, end + 44);
  const text = printable(`${line}${body ? ` ⏎ ${body}` : ""}`);
  return `\`${(text.length > max ? `${text.slice(0, max)}…` : text).replace(/`/g, "'")}\``;
}

export function differenceMarkdown(entries: readonly CorpusEntry[], l: LevelRun, examples = 8): string {
  const diff = differences(l);
  const groups = new Map<string, number[]>();
  for (const i of diff) {
    const v = l.inproc.verdicts[i]!;
    const key = `proxy ${l.blocked[i] ? "blocked" : "passed"} (${outcomeDetail(l.outcomes[i]!)}); in process: ${whyClass(v.why, v.blocked)}`;
    const g = groups.get(key) ?? [];
    g.push(i);
    groups.set(key, g);
  }
  const sorted = [...groups].sort((a, b) => b[1].length - a[1].length);
  const head = `Paranoia ${l.paranoia}: **${int(diff.length)} of ${int(entries.length)} requests differ** between the proxy and the in-process engine (bench/waf-eval.ts's steps, same rule snapshot, ${fmt(l.inproc.usPerRequest, 1)} µs per request in process).`;
  if (diff.length === 0) return head;
  const picks = sorted.flatMap(([, idx]) => idx.slice(0, Math.max(1, Math.floor(examples / sorted.length)))).slice(0, examples);
  return [
    head,
    "",
    mdTable(
      ["what happened", "requests"],
      sorted.map(([k, idx]) => [k, int(idx.length)]),
    ),
    "",
    mdTable(
      ["corpus id", "expect", "proxy", "in process", "request"],
      picks.map((i) => [entries[i]!.id, entries[i]!.expect, outcomeDetail(l.outcomes[i]!), l.inproc.verdicts[i]!.why.slice(0, 60), requestSummary(entries[i]!.raw)]),
    ),
  ].join("\n");
}

/** Requests the reference peers themselves refused or could not answer (not 200/403), for context. */
export function referenceOddities(entries: readonly CorpusEntry[]): string {
  const odd = new Map<string, number>();
  for (const e of entries) {
    if (e.crs4 === 200 || e.crs4 === 403) continue;
    const k = `CRS 4.28 ${e.crs4 === 0 ? "no response" : e.crs4}`;
    odd.set(k, (odd.get(k) ?? 0) + 1);
  }
  for (const e of entries) {
    if (e.crs3 === 200 || e.crs3 === 403 || !isBlockedStatus(e.crs3)) continue;
    const k = `CRS 3.3.4 ${e.crs3 === 0 ? "no response" : e.crs3}`;
    odd.set(k, (odd.get(k) ?? 0) + 1);
  }
  return [...odd].map(([k, n]) => `${k}: ${int(n)}`).join(", ");
}

/** The requests that got no status at all, by outcome, with their ids (at most `max` each). */
export function noResponseList(entries: readonly CorpusEntry[], l: LevelRun, max = 6): string {
  const by = new Map<string, string[]>();
  l.outcomes.forEach((o, i) => {
    if (o.kind === "status") return;
    const k = outcomeLabel(o);
    const list = by.get(k) ?? [];
    list.push(entries[i]!.id);
    by.set(k, list);
  });
  if (by.size === 0) return `paranoia ${l.paranoia}: none`;
  return `paranoia ${l.paranoia}: ${[...by].map(([k, ids]) => `${k} ${ids.slice(0, max).join(", ")}${ids.length > max ? ` and ${int(ids.length - max)} more` : ""}`).join("; ")}`;
}
