/**
 * audit-export: how long exporting a million audit events takes in each
 * format (JSON lines, CSV, CEF, RFC 5424 syslog), through the same
 * exportAuditLog the CLI runs, into a stream that counts bytes (so the
 * figure is the exporter's, not the disk's). Baseline in the same run:
 * SQLite alone reading every row. Goal: each format under 30 s.
 */
import Database from "better-sqlite3";
import { performance } from "node:perf_hooks";
import { join } from "node:path";
import { Writable } from "node:stream";
import { computeEventHash } from "../audit/canonical.js";
import { EXPORT_FORMATS, exportAuditLog, type ExportFormat } from "../audit/export/export.js";
import { AuditLog } from "../audit/store.js";
import { benchEvent } from "./lib/audit-events.js";
import { fmt, fmtRuns, mdTable, median } from "./lib/stats.js";
import { meets, type Benchmark, type BenchContext, type Goal, type Row, type Section } from "./lib/types.js";

const GOAL: Goal = { op: "<=", value: 30, unit: "s" };

interface Sink {
  out: Writable;
  bytes: () => number;
  /** The first 64 KiB written, to check a sample. */
  head: () => string;
}

function countingSink(): Sink {
  let bytes = 0;
  let head = "";
  const out = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      bytes += chunk.length;
      if (head.length < 65_536) head += chunk.toString();
      cb();
    },
  });
  return { out, bytes: () => bytes, head: () => head };
}

/** A log of n events, appended in batches of 1000 (one clock tick each). */
function buildLog(ctx: BenchContext, path: string, n: number): number {
  let t = Date.UTC(2026, 10, 22, 0, 0, 0);
  const log = AuditLog.open(path, { clock: () => new Date((t += 50)) });
  const t0 = performance.now();
  for (let i = 0; i < n; i += 1000) {
    log.appendMany(Array.from({ length: Math.min(1000, n - i) }, (_, k) => benchEvent(i + k)));
    if ((i / 1000) % 100 === 99) ctx.log(`built ${fmt(i + 1000)} of ${fmt(n)} events`);
  }
  log.close();
  return (performance.now() - t0) / 1000;
}

/** The first exported line must be event 1 with a hash that recomputes (jsonl), or at least name seq 1. */
function checkSample(format: ExportFormat, head: string): void {
  const first = (format === "csv" ? head.split("\r\n")[1] : head.split("\n")[0]) ?? "";
  if (format === "jsonl") {
    const ev = JSON.parse(first) as Record<string, unknown> & { details: object };
    const { hash, details, ...rest } = ev;
    const again = computeEventHash({ ...(rest as Record<string, string>), seq: ev.seq as number, detailsJson: JSON.stringify(details) } as Parameters<typeof computeEventHash>[0]);
    if (ev.seq !== 1 || again !== hash) throw new Error("jsonl: the first exported event does not recompute to its hash");
  } else if (!/(^1,|cs1=1 |seq="1")/.test(first)) {
    throw new Error(`${format}: the first exported line is not event 1: ${first.slice(0, 120)}`);
  }
}

export const auditExport: Benchmark = {
  name: "audit-export",
  description: "export of 1,000,000 audit events per format (JSON lines, CSV, CEF, syslog): seconds and events/s",
  budgetMs: 40 * 60_000,
  async run(ctx: BenchContext): Promise<Section> {
    const n = ctx.quick ? 20_000 : 1_000_000;
    const runs = ctx.quick ? 3 : 5;
    const path = join(ctx.tempDir("audit-export-"), "audit.db");
    ctx.log(`building a log of ${fmt(n)} events`);
    const buildS = buildLog(ctx, path, n);

    const seconds = new Map<ExportFormat | "baseline", number[]>();
    const bytes = new Map<ExportFormat, number>();
    const readAll = (): number => {
      const db = new Database(path, { readonly: true });
      const t0 = performance.now();
      let rows = 0;
      for (const _row of db.prepare("SELECT * FROM events ORDER BY seq").raw(true).iterate()) rows++;
      const s = (performance.now() - t0) / 1000;
      db.close();
      if (rows !== n) throw new Error(`baseline read ${rows} rows, expected ${n}`);
      return s;
    };
    for (let r = 0; r < runs; r++) {
      (seconds.get("baseline") ?? seconds.set("baseline", []).get("baseline")!).push(readAll());
      for (const format of EXPORT_FORMATS) {
        const sink = countingSink();
        const t0 = performance.now();
        const res = await exportAuditLog({ db: path, format, out: sink.out, productVersion: "0.1.0", hostname: "bench-host" });
        const s = (performance.now() - t0) / 1000;
        if (res.events !== n || res.lastSeq !== n) throw new Error(`${format}: exported ${res.events} events up to seq ${res.lastSeq}, expected ${n}`);
        checkSample(format, sink.head());
        (seconds.get(format) ?? seconds.set(format, []).get(format)!).push(s);
        bytes.set(format, sink.bytes());
        ctx.log(`run ${r + 1}/${runs}: ${format} ${s.toFixed(1)} s`);
      }
    }

    const rows: Row[] = [];
    const table: string[][] = [];
    const base = median(seconds.get("baseline")!);
    for (const format of EXPORT_FORMATS) {
      const s = median(seconds.get(format)!);
      const status = meets(GOAL, s) ? "PASS" : "FAIL";
      rows.push({ metric: `${format}: seconds for ${fmt(n)} events (median)`, value: fmt(s, 1), goal: `≤ ${GOAL.value} s`, status: ctx.quick ? "info" : status });
      table.push([`**${format}**`, fmt(s, 2), fmt(n / s), fmtRuns(seconds.get(format)!, 2), `${fmt(bytes.get(format)! / 2 ** 20, 0)} MiB`, fmt(s / base, 1), ctx.quick ? "" : `**${status}**`]);
    }
    table.push(["baseline: SQLite alone reading every row", fmt(base, 2), fmt(n / base), fmtRuns(seconds.get("baseline")!, 2), "", "1.0", ""]);
    rows.push({ metric: "  baseline: SQLite alone reading every row, s", value: fmt(base, 2), status: "info" });
    const markdown = [
      `A log of ${fmt(n)} sidecar authorization events (about 450 bytes each; built with \`appendMany\` in batches of 1000 in ${fmt(buildS, 1)} s), exported ${runs} times per format with \`exportAuditLog\` — the code behind \`mesh audit export\` — without filters, into a stream that counts the bytes. Each run first reads every row with SQLite alone (the baseline).`,
      "",
      mdTable(["format", "seconds (median)", "events/s", "runs (s)", "output", "÷ baseline", `goal ≤ ${GOAL.value} s`], table),
      "",
      "Checked every run: the export returned all events up to the last seq; its first line is event 1 (in JSON lines, its hash recomputes from the exported fields).",
    ].join("\n");
    return { markdown, rows };
  },
};
