/**
 * Export filters and the paging reader: time window, component, action
 * (exact and prefix), outcome; keyset pages that examine a bounded number of
 * rows; follow in-process; --since/--until parsing.
 */
import test from "ava";
import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { AuditError } from "../../audit/errors.js";
import type { AuditEvent, AuditOutcome } from "../../audit/event.js";
import { exportAuditLog, type ExportFormat } from "../../audit/export/export.js";
import { AuditPageReader, pageSql, type ExportFilter } from "../../audit/export/reader.js";
import { parseRfc3339, parseRelativeMs, parseTimeBound } from "../../audit/export/time.js";
import { AuditLog } from "../../audit/store.js";

const dirs: string[] = [];
test.after.always(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const T0 = Date.UTC(2026, 10, 22, 10, 0, 0, 0);
const MIN = 60_000;
const COMPONENTS = ["ca", "proxy", "agent"];
const ACTIONS = ["ca.sign", "ca.rotate.prepare", "ca.rotate.activate", "proxy.authz", "ca.rotated"];
const OUTCOMES: AuditOutcome[] = ["success", "failure", "deny", "success"];
const N = 60;

function tempPath(name = "audit.db"): string {
  const dir = mkdtempSync(join(tmpdir(), "audit-export-filter-"));
  dirs.push(dir);
  return join(dir, name);
}

/** N events, one a minute from T0, cycling through components, actions and outcomes at different periods. */
function makeLog(): { path: string; events: AuditEvent[] } {
  const path = tempPath();
  let i = 0;
  const log = AuditLog.open(path, { clock: () => new Date(T0 + MIN * i++) });
  for (let k = 0; k < N; k++) {
    log.append({ component: COMPONENTS[k % 3], action: ACTIONS[k % 5], outcome: OUTCOMES[k % 4], actor: `a${k}`, details: { k } });
  }
  const events = [...log.query()];
  log.close();
  return { path, events };
}

const fixture = makeLog();

function collector(): { out: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      cb();
    },
  });
  return { out, text: () => Buffer.concat(chunks).toString("utf8") };
}

async function exported(filter: ExportFilter, pageSize?: number, format: ExportFormat = "jsonl"): Promise<number[]> {
  const c = collector();
  await exportAuditLog({ db: fixture.path, format, filter, out: c.out, pageSize });
  return c
    .text()
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => (JSON.parse(l) as AuditEvent).seq);
}

/** The seqs a filter should select, computed from the stored events in plain code. */
function expectedSeqs(filter: ExportFilter): number[] {
  return fixture.events
    .filter((e) => {
      const ts = Date.parse(e.ts);
      if (filter.since && ts < filter.since.getTime()) return false;
      if (filter.until && ts >= filter.until.getTime()) return false;
      if (filter.component !== undefined && e.component !== filter.component) return false;
      if (filter.outcome !== undefined && e.outcome !== filter.outcome) return false;
      if (filter.action !== undefined) {
        if (filter.action.endsWith("*")) return e.action.startsWith(filter.action.slice(0, -1));
        return e.action === filter.action;
      }
      return true;
    })
    .map((e) => e.seq);
}

const CASES: [string, ExportFilter][] = [
  ["no filter", {}],
  ["since", { since: new Date(T0 + 17 * MIN) }],
  ["since between events", { since: new Date(T0 + 17 * MIN + 1) }],
  ["until", { until: new Date(T0 + 23 * MIN) }],
  ["since and until", { since: new Date(T0 + 10 * MIN), until: new Date(T0 + 31 * MIN) }],
  ["component", { component: "proxy" }],
  ["action exact", { action: "ca.rotate.activate" }],
  ["action prefix", { action: "ca.rotate.*" }],
  ["action prefix without a dot (ca.rotate*: also ca.rotated)", { action: "ca.rotate*" }],
  ["action *", { action: "*" }],
  ["outcome", { outcome: "deny" }],
  ["everything at once", { since: new Date(T0 + 5 * MIN), until: new Date(T0 + 50 * MIN), component: "ca", action: "ca.*", outcome: "success" }],
  ["nothing matches", { component: "waf" }],
  ["window after the last event", { since: new Date(T0 + 10 * 24 * 60 * MIN) }],
  ["window before the first event", { until: new Date(T0 - MIN) }],
];

for (const [name, filter] of CASES) {
  test(`filter: ${name}`, async (t) => {
    const want = expectedSeqs(filter);
    t.deepEqual(await exported(filter), want);
    // Tiny pages give the same answer as one big page.
    t.deepEqual(await exported(filter, 2), want);
  });
}

test("the filter cases are not vacuous: each selects a proper, distinct subset", (t) => {
  const size = Object.fromEntries(CASES.map(([name, f]) => [name, expectedSeqs(f).length]));
  for (const [name, n] of Object.entries(size)) {
    if (name === "no filter" || name === "action *") t.is(n, N, name);
    else if (/nothing|window (after|before)/.test(name)) t.is(n, 0, name);
    else t.true(n > 0 && n < N, `${name}: ${n}`);
  }
  t.true(expectedSeqs({ action: "ca.rotate*" }).length > expectedSeqs({ action: "ca.rotate.*" }).length);
});

test("time filters stay exact when the clock stepped back (ts not in seq order)", async (t) => {
  const path = tempPath();
  // Minutes after T0 for seq 1, 2, …: two steps back (after seq 4 and seq 20).
  const minutes = [0, 1, 2, 50, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 45, 18, 19, 20, 21, 22];
  let i = 0;
  const log = AuditLog.open(path, { clock: () => new Date(T0 + MIN * minutes[i++]) });
  for (let k = 0; k < minutes.length; k++) log.append({ component: "ca", action: "ca.sign", outcome: "success", details: { k } });
  const events = [...log.query()];
  log.close();
  let checked = 0;
  for (const since of [undefined, 0, 2, 3, 10, 19, 20, 21, 22, 30, 46, 51]) {
    for (const until of [undefined, 1, 3, 4, 12, 21, 23, 46, 60]) {
      if (since !== undefined && until !== undefined && since >= until) continue;
      const filter: ExportFilter = {};
      if (since !== undefined) filter.since = new Date(T0 + MIN * since);
      if (until !== undefined) filter.until = new Date(T0 + MIN * until);
      const want = events.filter((e) => (!filter.since || Date.parse(e.ts) >= filter.since.getTime()) && (!filter.until || Date.parse(e.ts) < filter.until.getTime())).map((e) => e.seq);
      const reader = AuditPageReader.open(path, filter, { pageSize: 4, scanWindow: 5 });
      const got: number[] = [];
      while (!reader.done) got.push(...reader.nextPage().map((r) => r.seq));
      reader.close();
      t.deepEqual(got, want, `since ${since} until ${until}`);
      checked++;
    }
  }
  t.is(checked, 64);
  // The out-of-order events are the ones a bound taken from the ts order alone would miss.
  t.deepEqual(events.filter((e) => Date.parse(e.ts) >= T0 + 46 * MIN).map((e) => e.seq), [4]);
});

test("the reader pages by seq, returns at most pageSize rows and examines at most scanWindow seqs per page", (t) => {
  const reader = AuditPageReader.open(fixture.path, { component: "agent" }, { pageSize: 3, scanWindow: 7 });
  const pages: number[][] = [];
  while (!reader.done) pages.push(reader.nextPage().map((r) => r.seq));
  reader.close();
  t.deepEqual(pages.flat(), expectedSeqs({ component: "agent" }));
  for (const p of pages) {
    t.true(p.length <= 3);
    if (p.length > 1) t.true(p[p.length - 1] - p[0] < 7, `page ${p} spans more than the scan window`);
  }
  t.true(pages.some((p) => p.length === 0) || pages.length > 7, "sparse matches need several windows");
  t.throws(() => reader.nextPage(), { instanceOf: AuditError, message: /closed/ });
});

test("the page query walks the seq range, never an index plus a sort (which would make paging quadratic)", (t) => {
  const db = new Database(fixture.path, { readonly: true });
  try {
    const all: ExportFilter = { since: new Date(T0), until: new Date(T0 + N * MIN), component: "ca", action: "ca.*", outcome: "deny" };
    for (const f of [all, { component: "ca", action: "ca.sign" }, { since: new Date(T0), until: new Date(T0 + MIN) }]) {
      const params = { after: 0, upto: 10, limit: 5, since: "x", until: "x", component: "x", action: "x", actionPrefix: "x", outcome: "x" };
      const sql = pageSql(f);
      const used = Object.fromEntries(Object.entries(params).filter(([k]) => sql.includes(`@${k}`)));
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(used) as { detail: string }[]).map((r) => r.detail).join("; ");
      t.regex(plan, /USING INTEGER PRIMARY KEY \(rowid>\? AND rowid<\?\)/, plan);
      t.notRegex(plan, /TEMP B-TREE|USING INDEX/, plan);
    }
  } finally {
    db.close();
  }
});

test("follow: events appended after the backlog arrive, and the signal ends the export", async (t) => {
  const path = tempPath();
  const log = AuditLog.open(path);
  log.append({ component: "ca", action: "ca.sign", outcome: "success", details: { n: 0 } });
  const stop = new AbortController();
  const c = collector();
  const seen: number[] = [];
  const lines = (): AuditEvent[] => c.text().split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as AuditEvent);
  const done = exportAuditLog({ db: path, format: "jsonl", filter: { component: "ca" }, out: c.out, follow: true, pollMs: 10, signal: stop.signal });
  const waitFor = async (n: number): Promise<void> => {
    const end = Date.now() + 5000;
    while (lines().length < n && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
  };
  await waitFor(1);
  seen.push(...lines().map((e) => e.seq));
  log.append({ component: "proxy", action: "proxy.authz", outcome: "deny" }); // filtered out
  log.appendMany([1, 2, 3].map((n) => ({ component: "ca", action: "ca.sign", outcome: "success" as const, details: { n } })));
  await waitFor(4);
  const all = lines();
  t.deepEqual(all.map((e) => e.seq), [1, 3, 4, 5]);
  t.deepEqual(all.map((e) => e.details.n), [0, 1, 2, 3]);
  stop.abort();
  const r = await done;
  t.deepEqual(r, { events: 4, lastSeq: 5 });
  t.deepEqual(seen, [1]);
  log.close();
});

test("bad input: unknown format, bad filter values, a missing file, a file that is not an audit log", async (t) => {
  const c = collector();
  const code = async (p: Promise<unknown>): Promise<string | undefined> => (await t.throwsAsync(p, { instanceOf: AuditError }))?.code;
  t.is(await code(exportAuditLog({ db: fixture.path, format: "xml" as ExportFormat, out: c.out })), "invalid_argument");
  t.is(await code(exportAuditLog({ db: fixture.path, format: "jsonl", filter: { outcome: "maybe" as AuditOutcome }, out: c.out })), "invalid_argument");
  t.is(await code(exportAuditLog({ db: fixture.path, format: "jsonl", filter: { since: new Date(Number.NaN) }, out: c.out })), "invalid_argument");
  t.is(await code(exportAuditLog({ db: fixture.path, format: "jsonl", filter: { component: "" }, out: c.out })), "invalid_argument");
  t.is(await code(exportAuditLog({ db: tempPath("missing.db"), format: "jsonl", out: c.out })), "not_found");
  const other = tempPath("other.db");
  const db = new Database(other);
  db.exec("CREATE TABLE t (x)");
  db.close();
  t.is(await code(exportAuditLog({ db: other, format: "csv", out: c.out })), "unsupported_schema");
  t.is(c.text(), "", "nothing written before the checks");
});

test("time bounds: RFC 3339 in any offset, or a duration before now", (t) => {
  const now = new Date(Date.UTC(2026, 10, 22, 12, 0, 0, 0));
  t.is(parseRfc3339("2026-11-22T10:00:00Z")?.toISOString(), "2026-11-22T10:00:00.000Z");
  t.is(parseRfc3339("2026-11-22T11:00:00.5+01:00")?.toISOString(), "2026-11-22T10:00:00.500Z");
  t.is(parseRfc3339("2026-11-21t22:30:00.123456-11:30")?.toISOString(), "2026-11-22T10:00:00.123Z");
  t.is(parseRfc3339("2016-12-31T23:59:60Z")?.toISOString(), "2016-12-31T23:59:59.999Z");
  t.is(parseRfc3339("2024-02-29T00:00:00Z")?.toISOString(), "2024-02-29T00:00:00.000Z");
  for (const bad of ["2026-02-29T00:00:00Z", "2026-02-30T00:00:00Z", "2026-11-22T24:00:00Z", "2026-11-22T10:00:00", "2026-11-22", "2026-11-22T10:00Z", "2026-13-01T00:00:00Z", "2026-11-22T10:00:00+24:00"]) {
    t.is(parseRfc3339(bad), undefined, bad);
  }
  t.is(parseRelativeMs("15m"), 15 * MIN);
  t.is(parseRelativeMs("1h30m"), 90 * MIN);
  t.is(parseRelativeMs("7d"), 7 * 24 * 60 * MIN);
  t.is(parseTimeBound("2h", now)?.toISOString(), "2026-11-22T10:00:00.000Z");
  t.is(parseTimeBound("1w", now)?.toISOString(), "2026-11-15T12:00:00.000Z");
  t.is(parseTimeBound("30s", now)?.toISOString(), "2026-11-22T11:59:30.000Z");
  t.is(parseTimeBound("2026-11-22T10:00:00Z", now)?.toISOString(), "2026-11-22T10:00:00.000Z");
  for (const bad of ["", "15", "15 m", "-5m", "1y", "yesterday", "m15", "1h 30m"]) t.is(parseTimeBound(bad, now), undefined, bad);
});
