/**
 * audit-append: audit events appended per second with the production
 * settings (WAL, durability "normal" — a returned append survives kill -9 —
 * and signed checkpoints every 1000 events / 10 s), from one process and
 * from four at once, also with durability "full" (fsync per commit). The
 * baseline, measured in the same runs, is SQLite alone committing the same
 * row into the same table with the same pragmas: no validation, redaction,
 * hashing or signing. Goal: ≥ 20,000 appends/s from one process.
 */
import Database from "better-sqlite3";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createSigningKey, TrustedKeys } from "../audit/keys.js";
import { AuditLog } from "../audit/store.js";
import { verifyAuditLog } from "../audit/verify.js";
import { benchEvent } from "./lib/audit-events.js";
import { runJsonChild } from "./lib/json-child.js";
import { loopSync, perSecond } from "./lib/loop.js";
import { fmt, fmtRuns, mdTable, median } from "./lib/stats.js";
import { meets, type Benchmark, type BenchContext, type Goal, type Row, type Section } from "./lib/types.js";

const GOAL: Goal = { op: ">=", value: 20_000, unit: "appends/s" };
const CHILD = fileURLToPath(new URL("./audit-append-child.js", import.meta.url));
const PROCESSES = 4;

type Durability = "normal" | "full";

interface Plan {
  runs: number;
  warmup: number;
  /** Appends per timed run, one process. */
  single: Record<Durability, number>;
  /** Appends per process per run, four processes. */
  multi: Record<Durability, number>;
}

function plan(quick: boolean): Plan {
  return quick
    ? { runs: 3, warmup: 500, single: { normal: 3000, full: 200 }, multi: { normal: 1000, full: 100 } }
    : { runs: 5, warmup: 3000, single: { normal: 30_000, full: 2000 }, multi: { normal: 10_000, full: 500 } };
}

interface SingleResult {
  rates: number[];
  baseline: number[];
  checked: string;
}

interface MultiResult {
  rates: number[];
  checked: string;
}

/** SQLite alone: the same row (fixed text, a new seq) committed one transaction at a time into the same schema. */
function baselineDb(path: string, durability: Durability): (count: number, maxMs: number) => number {
  AuditLog.open(path).close(); // the same tables, index and triggers
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("wal_autocheckpoint = 4000");
  db.pragma(`synchronous = ${durability === "full" ? "FULL" : "NORMAL"}`);
  const insert = db.prepare("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  const e = benchEvent(1);
  const details = JSON.stringify(e.details);
  const hash = "a".repeat(64);
  let seq = 0;
  const tx = db.transaction(() => insert.run(++seq, new Date().toISOString(), e.component, e.action, e.outcome, e.actor, e.subject, e.reason, details, hash, hash));
  return (count, maxMs) => perSecond(loopSync({ count, maxMs }, () => tx.immediate()));
}

function runSingle(ctx: BenchContext, dir: string, keyFile: string, keys: TrustedKeys, durability: Durability, p: Plan): SingleResult {
  const path = join(dir, `single-${durability}.db`);
  const log = AuditLog.open(path, { durability, checkpoints: { keyFile } });
  const baseline = baselineDb(join(dir, `baseline-${durability}.db`), durability);
  const count = p.single[durability];
  const maxMs = Math.max(1000, Math.min(60_000, (ctx.deadline - Date.now()) / 8));
  let i = 0;
  loopSync({ count: p.warmup, maxMs }, () => log.append(benchEvent(i++)));
  const out: SingleResult = { rates: [], baseline: [], checked: "" };
  for (let r = 0; r < p.runs; r++) {
    // baseline and subject alternate run by run, so a busy moment hits both alike
    out.baseline.push(baseline(count, maxMs));
    const res = loopSync({ count, maxMs }, () => log.append(benchEvent(i++)));
    if (res.failed > 0) throw new Error(`${durability}: ${res.failed} appends failed, first: ${res.firstError}`);
    out.rates.push(perSecond(res));
    ctx.log(`one process, ${durability}: run ${r + 1}/${p.runs}: ${fmt(perSecond(res))} appends/s (SQLite alone ${fmt(out.baseline.at(-1)!)}/s)`);
  }
  log.close();
  const v = verifyAuditLog(path, { keys });
  if (!v.ok || v.count !== i) throw new Error(`${durability}: the log does not check out after the runs: ${v.problem ?? `${v.count} events, expected ${i}`}`);
  out.checked = `${fmt(i)} events, chain and ${v.checkpoints.count} signed checkpoints verified`;
  return out;
}

interface ChildResult {
  events: number;
  startMs: number;
  endMs: number;
  firstSeq: number;
  lastSeq: number;
}

async function runMulti(ctx: BenchContext, dir: string, keyFile: string, keys: TrustedKeys, durability: Durability, p: Plan): Promise<MultiResult> {
  const per = p.multi[durability];
  const out: MultiResult = { rates: [], checked: "" };
  let verified = 0;
  for (let r = 0; r < p.runs; r++) {
    const db = join(dir, `multi-${durability}-${r}.db`);
    AuditLog.open(db).close(); // created up front, so the writers measure appends, not the race to create it
    const startAt = Date.now() + 1500;
    const results = await Promise.all(
      Array.from({ length: PROCESSES }, (_, tag) =>
        runJsonChild<ChildResult>({
          script: CHILD,
          job: { db, keyFile, count: per, startAt, durability, tag },
          timeoutMs: 300_000,
          track: (kill) => ctx.onCleanup(kill),
        }),
      ),
    );
    const events = results.reduce((a, x) => a + x.result.events, 0);
    const wallMs = Math.max(...results.map((x) => x.result.endMs)) - Math.min(...results.map((x) => x.result.startMs));
    out.rates.push((events * 1000) / wallMs);
    const v = verifyAuditLog(db, { keys });
    if (!v.ok || v.count !== PROCESSES * per) throw new Error(`${durability}, ${PROCESSES} processes: ${v.problem ?? `${v.count} events, expected ${PROCESSES * per}`}`);
    verified += v.count;
    ctx.log(`${PROCESSES} processes, ${durability}: run ${r + 1}/${p.runs}: ${fmt(out.rates.at(-1)!)} appends/s in total`);
  }
  out.checked = `each run's log held all ${fmt(PROCESSES * per)} events with a valid chain and signed checkpoints (${fmt(verified)} events verified)`;
  return out;
}

export const auditAppend: Benchmark = {
  name: "audit-append",
  description: "audit events appended per second (production settings: WAL, signed checkpoints), one process and four at once, durability normal and full",
  budgetMs: 20 * 60_000,
  async run(ctx: BenchContext): Promise<Section> {
    const p = plan(ctx.quick);
    const dir = ctx.tempDir("audit-append-");
    const keyFile = join(dir, "audit.key");
    const key = createSigningKey(keyFile, { trustedKeysFile: join(dir, "audit.keys") });
    const keys = TrustedKeys.of(key);
    const single = { normal: runSingle(ctx, dir, keyFile, keys, "normal", p), full: runSingle(ctx, dir, keyFile, keys, "full", p) };
    const multi = { normal: await runMulti(ctx, dir, keyFile, keys, "normal", p), full: await runMulti(ctx, dir, keyFile, keys, "full", p) };

    const m = median(single.normal.rates);
    const status = meets(GOAL, m) ? "PASS" : "FAIL";
    const rows: Row[] = [
      { metric: "one process, durability normal, appends/s (median)", value: fmt(m), goal: `≥ ${fmt(GOAL.value)} ${GOAL.unit}`, status },
      { metric: "  ÷ SQLite alone, same commit (same run)", value: fmt(m / median(single.normal.baseline), 3), status: "info" },
      { metric: "one process, durability full, appends/s", value: fmt(median(single.full.rates)), status: "info" },
      { metric: `${PROCESSES} processes, durability normal, appends/s in total`, value: fmt(median(multi.normal.rates)), status: "info" },
      { metric: `${PROCESSES} processes, durability full, appends/s in total`, value: fmt(median(multi.full.rates)), status: "info" },
    ];
    const line = (label: string, runs: number[], extra = "") => [label, fmt(median(runs)), fmt(1e6 / median(runs), 1), fmtRuns(runs), extra];
    const table = mdTable(
      ["measure", "appends/s (median)", "µs per append", "runs", ""],
      [
        line("**one process, durability normal** (`AuditLog.append`)", single.normal.rates, `÷ SQLite alone: ${fmt(median(single.normal.rates) / median(single.normal.baseline), 3)}`),
        line("baseline: SQLite alone, same row and pragmas, durability normal", single.normal.baseline),
        line("one process, durability full (`AuditLog.append`)", single.full.rates, `÷ SQLite alone: ${fmt(median(single.full.rates) / median(single.full.baseline), 3)}`),
        line("baseline: SQLite alone, durability full", single.full.baseline),
        line(`${PROCESSES} processes at once, durability normal, in total`, multi.normal.rates, `${fmt(median(multi.normal.rates) / PROCESSES)} per process`),
        line(`${PROCESSES} processes at once, durability full, in total`, multi.full.rates, `${fmt(median(multi.full.rates) / PROCESSES)} per process`),
      ],
    );
    const markdown = [
      mdTable(["goal", "target", "median", "result"], [["appends/s from one process, durability normal (survives kill -9)", `≥ ${fmt(GOAL.value)} ${GOAL.unit}`, fmt(m), `**${status}**`]]),
      "",
      `One process: ${p.runs} runs of ${fmt(p.single.normal)} appends (durability full: ${fmt(p.single.full)}) on one log after ${fmt(p.warmup)} warm-up appends, each run right after a baseline run of the same count.`,
      `${PROCESSES} processes: ${p.runs} runs, each on a fresh log, of ${PROCESSES} child processes appending ${fmt(p.multi.normal)} events each (durability full: ${fmt(p.multi.full)}), all starting at the same instant; the rate is all events over the time from the first start to the last finish.`,
      "Every writer opens the log as production does: WAL, a signing key file, a signed checkpoint every 1000 events or 10 s. Events are sidecar authorization decisions of about 450 bytes (bench/lib/audit-events.ts).",
      "",
      table,
      "",
      `Checked after the runs: one process normal: ${single.normal.checked}; full: ${single.full.checked}. ${PROCESSES} processes normal: ${multi.normal.checked}; full: ${multi.full.checked}.`,
    ].join("\n");
    return { markdown, rows };
  },
};
