import test from "ava";
import Database from "better-sqlite3";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GENESIS_HASH, computeEventHash } from "../../audit/canonical.js";
import { AuditError } from "../../audit/errors.js";
import type { AuditEventInput } from "../../audit/event.js";
import { REDACTED } from "../../audit/redact.js";
import { generateSigningKey, type SigningKey } from "../../audit/keys.js";
import { AUDIT_SCHEMA_VERSION } from "../../audit/schema.js";
import { AuditLog } from "../../audit/store.js";

const dirs: string[] = [];
test.after.always(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempPath(): string {
  const dir = mkdtempSync(join(tmpdir(), "audit-store-"));
  dirs.push(dir);
  return join(dir, "audit.db");
}

/** A clock that advances 1 s per reading from a fixed start. */
function steppingClock(startMs = Date.UTC(2026, 10, 22, 10, 0, 0, 123)): () => Date {
  let now = startMs;
  return () => {
    const d = new Date(now);
    now += 1000;
    return d;
  };
}

const ev = (i: number, extra: Partial<AuditEventInput> = {}): AuditEventInput => ({
  component: i % 2 === 0 ? "ca" : "proxy",
  action: i % 3 === 0 ? "sign" : "authz",
  outcome: i % 4 === 0 ? "deny" : "success",
  actor: `actor-${i}`,
  details: { i },
  ...extra,
});

function codeOf(t: import("ava").ExecutionContext, fn: () => unknown): string | undefined {
  return t.throws(fn, { instanceOf: AuditError })?.code;
}

test("append chains events, returns them as stored, and survives reopening", (t) => {
  const path = tempPath();
  const clock = steppingClock();
  const log = AuditLog.open(path, { clock });
  t.is(log.head(), undefined);
  t.is(log.count(), 0);
  const a = log.append(ev(1));
  const b = log.append(ev(2, { reason: "r", subject: "s" }));
  t.like(a, { seq: 1, ts: "2026-11-22T10:00:00.123Z", component: "proxy", action: "authz", prev_hash: GENESIS_HASH });
  t.like(b, { seq: 2, ts: "2026-11-22T10:00:01.123Z", prev_hash: a.hash, reason: "r", subject: "s", details: { i: 2 } });
  t.is(a.hash, computeEventHash({ ...a, detailsJson: '{"i":1}' }));
  t.deepEqual(log.head(), { seq: 2, hash: b.hash });
  t.deepEqual([...log.query()], [a, b]);
  log.close();

  const again = AuditLog.open(path, { clock });
  t.is(again.count(), 2);
  const c = again.append(ev(3));
  t.is(c.seq, 3);
  t.is(c.prev_hash, b.hash);
  again.close();
});

test("appendMany is one all-or-nothing transaction", (t) => {
  const log = AuditLog.open(tempPath(), { clock: steppingClock() });
  const events = log.appendMany([ev(1), ev(2), ev(3)]);
  t.deepEqual(events.map((e) => e.seq), [1, 2, 3]);
  t.is(events[1].prev_hash, events[0].hash);
  t.deepEqual(log.appendMany([]), []);
  t.is(codeOf(t, () => log.appendMany([ev(4), { ...ev(5), component: "BAD" }])), "invalid_event");
  t.is(log.count(), 3, "nothing of the failed batch was written");
  t.is(log.append(ev(6)).seq, 4);
  log.close();
});

test("invalid events and a broken clock leave the chain untouched", (t) => {
  let broken = false;
  const log = AuditLog.open(tempPath(), { clock: () => (broken ? new Date(Number.NaN) : new Date(0)) });
  log.append(ev(1));
  const head = log.head();
  t.is(codeOf(t, () => log.append({ ...ev(2), outcome: "maybe" as "deny" })), "invalid_event");
  t.is(codeOf(t, () => log.append({ ...ev(2), details: { x: Number.NaN } })), "invalid_event");
  broken = true;
  t.is(codeOf(t, () => log.append(ev(3))), "invalid_argument");
  t.deepEqual(log.head(), head);
  t.is(log.count(), 1);
  log.close();
});

test("secrets are redacted before they reach the file", (t) => {
  const path = tempPath();
  const log = AuditLog.open(path);
  const e = log.append({
    component: "proxy",
    action: "auth.basic",
    outcome: "failure",
    reason: "bad credentials: Basic " + Buffer.from("bob:pa55word").toString("base64"),
    details: { headers: { authorization: "Basic Ym9iOnBhNTV3b3Jk" }, password: "pa55word" },
  });
  t.deepEqual(e.details, { headers: { authorization: REDACTED }, password: REDACTED });
  log.close();
  const raw = new Database(path, { readonly: true });
  const row = raw.prepare("SELECT reason, details FROM events").get() as { reason: string; details: string };
  raw.close();
  t.is(row.reason, `bad credentials: Basic ${REDACTED}`);
  t.false(row.details.includes("pa55word") || row.details.includes("Ym9iOnBhNTV3b3Jk"));
});

test("query filters stream in seq order", (t) => {
  const start = Date.UTC(2026, 0, 1);
  const log = AuditLog.open(tempPath(), { clock: steppingClock(start) });
  for (let i = 1; i <= 24; i++) log.append(ev(i));
  const seqs = (f: Parameters<AuditLog["query"]>[0]): number[] => [...log.query(f)].map((e) => e.seq);
  t.is(seqs({}).length, 24);
  t.deepEqual(seqs({ sinceSeq: 21 }), [21, 22, 23, 24]);
  // ts of seq n is start + (n-1) s; since is inclusive, until exclusive.
  t.deepEqual(seqs({ since: new Date(start + 3000), until: new Date(start + 6000) }), [4, 5, 6]);
  t.deepEqual(seqs({ component: "ca", action: "sign" }), [6, 12, 18, 24]);
  t.deepEqual(seqs({ component: "proxy", outcome: "success", limit: 3 }), [1, 3, 5]);
  t.deepEqual(seqs({ outcome: "deny", sinceSeq: 10 }), [12, 16, 20, 24]);
  t.deepEqual(seqs({ action: "nope" }), []);
  t.deepEqual(seqs({ limit: 0 }), []);
  // Breaking out of the loop releases the statement, so appends work again.
  for (const e of log.query()) {
    if (e.seq === 2) break;
  }
  t.is(log.append(ev(25)).seq, 25);
  for (const bad of [{ sinceSeq: -1 }, { limit: 1.5 }, { since: new Date(Number.NaN) }, { outcome: "x" }, { component: "" }]) {
    t.is(codeOf(t, () => log.query(bad as Parameters<AuditLog["query"]>[0])), "invalid_argument", JSON.stringify(bad));
  }
  log.close();
});

test("time filters use the ts index, the only index each append pays for", (t) => {
  const path = tempPath();
  AuditLog.open(path).close();
  const db = new Database(path, { readonly: true });
  const plan = (sql: string): string =>
    (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((r) => r.detail).join("; ");
  t.regex(plan("SELECT * FROM events WHERE ts >= '2026' AND ts < '2027' ORDER BY seq"), /events_ts/);
  const indexes = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'events' AND sql IS NOT NULL").all() as { name: string }[];
  t.deepEqual(indexes.map((i) => i.name), ["events_ts"]);
  db.close();
});

test("the database and its WAL files are created owner-only, whatever the umask", (t) => {
  const path = tempPath();
  const old = process.umask(0);
  try {
    const log = AuditLog.open(path);
    log.append(ev(1));
    for (const suffix of ["", "-wal", "-shm"]) t.is(statSync(path + suffix).mode & 0o777, 0o600, `file${suffix}`);
    log.close();
  } finally {
    process.umask(old);
  }
});

test("triggers refuse UPDATE and DELETE on events", (t) => {
  const path = tempPath();
  const log = AuditLog.open(path);
  log.append(ev(1));
  const raw = new Database(path);
  t.throws(() => raw.prepare("UPDATE events SET actor = 'mallory'").run(), { any: true, message: /append-only/ });
  t.throws(() => raw.prepare("DELETE FROM events").run(), { any: true, message: /append-only/ });
  raw.close();
  t.is([...log.query()][0].actor, "actor-1");
  log.close();
});

test("read-only logs, closed logs and bad options fail with typed errors", (t) => {
  const path = tempPath();
  t.is(codeOf(t, () => AuditLog.open(path, { readonly: true })), "not_found");
  const log = AuditLog.open(path);
  log.append(ev(1));
  const ro = AuditLog.open(path, { readonly: true });
  t.is(ro.count(), 1);
  t.is([...ro.query()][0].seq, 1);
  t.is(codeOf(t, () => ro.append(ev(2))), "read_only");
  ro.close();
  log.close();
  log.close(); // idempotent
  t.is(codeOf(t, () => log.append(ev(2))), "closed");
  t.is(codeOf(t, () => log.head()), "closed");
  t.is(codeOf(t, () => AuditLog.open(path, { busyTimeoutMs: -1 })), "invalid_argument");
  t.is(codeOf(t, () => AuditLog.open(path, { durability: "fast" as "full" })), "invalid_argument");
  t.is(codeOf(t, () => AuditLog.open("")), "invalid_argument");
  const full = AuditLog.open(path, { durability: "full", busyTimeoutMs: 100 });
  t.is(full.append(ev(3)).seq, 2);
  full.close();
});

test("foreign files and newer schemas are refused", (t) => {
  const other = tempPath();
  const db = new Database(other);
  db.exec("CREATE TABLE t (x)");
  db.close();
  t.is(codeOf(t, () => AuditLog.open(other)), "unsupported_schema");

  const newer = tempPath();
  AuditLog.open(newer).close();
  const raw = new Database(newer);
  raw.pragma(`user_version = ${AUDIT_SCHEMA_VERSION + 1}`);
  raw.close();
  t.is(codeOf(t, () => AuditLog.open(newer)), "unsupported_schema");

  const garbage = tempPath();
  writeFileSync(garbage, "this is not a database, just some text that is long enough".repeat(100));
  t.true(["store_error", "unsupported_schema"].includes(codeOf(t, () => AuditLog.open(garbage)) ?? ""));
});

test("a :memory: log works for tests", (t) => {
  const log = AuditLog.open(":memory:");
  t.is(log.append(ev(1)).seq, 1);
  t.is(log.count(), 1);
  log.close();
});

test("two connections taking turns see each other's appends (the cached head is dropped when another commits)", (t) => {
  const path = tempPath();
  const a = AuditLog.open(path);
  const b = AuditLog.open(path);
  const order = [a, b, a, a, b, b, b, a, b, a];
  const got = order.map((log, i) => log.append(ev(i)));
  t.deepEqual(got.map((e) => e.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  for (let i = 1; i < got.length; i++) t.is(got[i].prev_hash, got[i - 1].hash);
  // A failed batch (refused by a trigger another connection added) leaves no trace in either writer's view.
  const raw = new Database(path);
  raw.exec("CREATE TRIGGER no_boom BEFORE INSERT ON events WHEN NEW.actor = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END");
  t.is(codeOf(t, () => a.appendMany([ev(11), { ...ev(12), actor: "boom" }])), "store_error");
  raw.exec("DROP TRIGGER no_boom");
  raw.close();
  t.like(a.append(ev(13)), { seq: 11, prev_hash: got[9].hash });
  t.like(b.append(ev(14)), { seq: 12 });
  a.close();
  b.close();
});

test("an append rolled back after its inserts (here: the checkpoint signature failed) does not advance the head", (t) => {
  let failing = false;
  const real = generateSigningKey();
  const key: SigningKey = {
    ...real,
    sign: (m: string) => {
      if (failing) throw new Error("HSM unavailable");
      return real.sign(m);
    },
  };
  const log = AuditLog.open(tempPath(), { checkpoints: { key, everyEvents: 4, everyMs: 0 } });
  log.appendMany([ev(1), ev(2)]);
  failing = true;
  t.is(codeOf(t, () => log.appendMany([ev(3), ev(4), ev(5)])), "store_error");
  t.is(log.count(), 2);
  failing = false;
  const next = log.append(ev(6));
  t.like(next, { seq: 3 });
  t.deepEqual(log.head(), { seq: 3, hash: next.hash });
  log.close();
});
