import test, { type ExecutionContext } from "ava";
import Database from "better-sqlite3";
import { join } from "node:path";
import { GENESIS_HASH } from "../../audit/canonical.js";
import { AuditError } from "../../audit/errors.js";
import type { AuditEvent } from "../../audit/event.js";
import { AuditLog } from "../../audit/store.js";
import { ChainVerifier, verifyAuditLog, type VerifyResult } from "../../audit/verify.js";
import { hashRow, removeTempDirs, rowOf, tamper as tamperWith, tempDir, type Row } from "./helpers/signed-log.js";

test.after.always(removeTempDirs);

const N = 10;

/** A closed log of N events with distinct fields, and the events as appended. */
function makeLog(): { path: string; events: AuditEvent[] } {
  const dir = tempDir("audit-verify-");
  const path = join(dir, "audit.db");
  let now = Date.UTC(2026, 10, 22, 10, 0, 0, 0);
  const log = AuditLog.open(path, { clock: () => new Date((now += 1000)) });
  const events: AuditEvent[] = [];
  for (let i = 1; i <= N; i++) {
    events.push(
      log.append({
        component: `comp${i}`,
        action: `act${i}`,
        outcome: i % 2 ? "success" : "deny",
        actor: `actor${i}`,
        subject: `subject${i}`,
        reason: `reason${i}`,
        details: { n: i, tags: ["a", i] },
      }),
    );
  }
  log.close();
  return { path, events };
}

/** Only the events' guards dropped: the trigger warnings test expects exactly those two missing. */
const tamper = (path: string, fn: (db: Database.Database) => void): void => tamperWith(path, fn, ["events_no_update", "events_no_delete"]);

function insertRow(db: Database.Database, r: Row): void {
  db.prepare(
    "INSERT INTO events VALUES (@seq, @ts, @component, @action, @outcome, @actor, @subject, @reason, @details, @prev_hash, @hash)",
  ).run(r);
}

function bad(t: ExecutionContext, result: VerifyResult, seq: number, problem: RegExp): void {
  t.false(result.ok);
  t.is(result.firstBadSeq, seq, result.problem);
  t.regex(result.problem ?? "", problem);
  t.is(result.count, Math.max(0, seq - 1), "rows before the bad one are proven good");
}

test("an untouched log verifies", (t) => {
  const { path, events } = makeLog();
  const result = verifyAuditLog(path);
  t.like(result, { ok: true, count: N, headSeq: N, headHash: events[N - 1].hash, start: { seq: 0, hash: GENESIS_HASH, from: "genesis" } });
  t.is(result.firstBadSeq, undefined);
  // Written without a signing key: the whole log is covered by the hash chain only, and verify says so.
  t.deepEqual(result.checkpoints, { count: 0, lastSeq: 0, unsigned: N });
  t.is(result.warnings?.length, 1);
  t.regex(result.warnings?.[0] ?? "", /10 events after seq 0 are covered by the hash chain only/);
});

test("an empty log verifies with the genesis head", (t) => {
  const dir = tempDir("audit-verify-");
  const path = join(dir, "empty.db");
  AuditLog.open(path).close();
  const result = verifyAuditLog(path);
  t.like(result, { ok: true, count: 0, headSeq: 0, headHash: GENESIS_HASH, checkpoints: { count: 0, lastSeq: 0, unsigned: 0 } });
  t.is(result.warnings, undefined);
});

const edits: [string, string | number][] = [
  ["ts", "2026-11-22T10:00:05.001Z"],
  ["component", "compX"],
  ["action", "actX"],
  ["outcome", "failure"],
  ["actor", "mallory"],
  ["subject", "subjectX"],
  ["reason", ""],
  ["details", '{"n":5,"tags":["a",6]}'],
  ["prev_hash", "f".repeat(64)],
  ["hash", "e".repeat(64)],
];
for (const [column, value] of edits) {
  test(`an edited ${column} is found at its row`, (t) => {
    const { path } = makeLog();
    tamper(path, (db) => db.prepare(`UPDATE events SET ${column} = ? WHERE seq = 5`).run(value));
    bad(t, verifyAuditLog(path), 5, column === "prev_hash" ? /prev_hash/ : /hash mismatch/);
  });
}

test("details rewritten in a non-canonical but equivalent form are found", (t) => {
  const { path } = makeLog();
  tamper(path, (db) => db.prepare(`UPDATE events SET details = '{"tags":["a",5], "n":5}' WHERE seq = 5`).run());
  bad(t, verifyAuditLog(path), 5, /canonical/);
});

test("an edit whose row hash was recomputed breaks the next link", (t) => {
  const { path } = makeLog();
  tamper(path, (db) => {
    const r = { ...rowOf(db, 5), actor: "mallory" };
    db.prepare("UPDATE events SET actor = ?, hash = ? WHERE seq = 5").run(r.actor, hashRow(r));
  });
  bad(t, verifyAuditLog(path), 6, /prev_hash/);
});

test("a deleted middle row is found", (t) => {
  const { path } = makeLog();
  tamper(path, (db) => db.prepare("DELETE FROM events WHERE seq = 5").run());
  bad(t, verifyAuditLog(path), 5, /seq 5 is missing/);
});

test("a deleted first row is found", (t) => {
  const { path } = makeLog();
  tamper(path, (db) => db.prepare("DELETE FROM events WHERE seq = 1").run());
  bad(t, verifyAuditLog(path), 1, /seq 1 is missing/);
});

test("a deleted row with the later seqs renumbered is found", (t) => {
  const { path } = makeLog();
  tamper(path, (db) => {
    db.prepare("DELETE FROM events WHERE seq = 5").run();
    for (let s = 6; s <= N; s++) db.prepare("UPDATE events SET seq = seq - 1 WHERE seq = ?").run(s);
  });
  bad(t, verifyAuditLog(path), 5, /prev_hash/);
});

test("a forged row with a consistent own hash inserted mid-chain is found", (t) => {
  const { path } = makeLog();
  tamper(path, (db) => {
    for (let s = N; s >= 6; s--) db.prepare("UPDATE events SET seq = seq + 1 WHERE seq = ?").run(s);
    const forged: Row = { ...rowOf(db, 5), seq: 6, actor: "mallory", prev_hash: rowOf(db, 5).hash };
    forged.hash = hashRow(forged);
    insertRow(db, forged);
  });
  // The forged row itself links and hashes; the row after it cannot link to it.
  bad(t, verifyAuditLog(path), 7, /prev_hash/);
});

test("a forged row before the first one is found", (t) => {
  const { path } = makeLog();
  tamper(path, (db) => {
    const forged: Row = { ...rowOf(db, 1), seq: 0, prev_hash: GENESIS_HASH };
    forged.hash = hashRow(forged);
    insertRow(db, forged);
  });
  const result = verifyAuditLog(path);
  t.false(result.ok);
  t.is(result.firstBadSeq, 0);
  t.regex(result.problem ?? "", /out of place/);
});

test("a forged row appended after a gap is found", (t) => {
  const { path, events } = makeLog();
  tamper(path, (db) => {
    const forged: Row = { ...rowOf(db, N), seq: N + 2, prev_hash: events[N - 1].hash };
    forged.hash = hashRow(forged);
    insertRow(db, forged);
  });
  bad(t, verifyAuditLog(path), N + 1, /missing/);
});

for (const [a, b] of [
  [3, 7],
  [4, 5],
]) {
  test(`swapped rows ${a} and ${b} are found at ${a}`, (t) => {
    const { path } = makeLog();
    tamper(path, (db) => {
      // Swap everything but seq, i.e. reorder the two events.
      const ra = rowOf(db, a);
      const rb = rowOf(db, b);
      db.prepare("DELETE FROM events WHERE seq IN (?, ?)").run(a, b);
      insertRow(db, { ...rb, seq: a });
      insertRow(db, { ...ra, seq: b });
    });
    bad(t, verifyAuditLog(path), a, /prev_hash/);
  });
}

test("a changed seq is found", (t) => {
  const { path } = makeLog();
  tamper(path, (db) => db.prepare("UPDATE events SET seq = 50 WHERE seq = 5").run());
  bad(t, verifyAuditLog(path), 5, /seq 5 is missing/);
  const other = makeLog();
  tamper(other.path, (db) => db.prepare("UPDATE events SET seq = 11 WHERE seq = 10").run());
  bad(t, verifyAuditLog(other.path), 10, /seq 10 is missing/);
});

test("dropped triggers alone are reported as a warning", (t) => {
  const { path } = makeLog();
  tamper(path, () => undefined);
  const result = verifyAuditLog(path);
  t.true(result.ok);
  t.deepEqual(
    result.warnings?.filter((w) => w.includes("trigger")),
    ["append-only trigger events_no_update is missing", "append-only trigger events_no_delete is missing"],
  );
});

test("a dropped events table fails verification", (t) => {
  const { path } = makeLog();
  tamper(path, (db) => db.exec("DROP TABLE events"));
  const result = verifyAuditLog(path);
  t.false(result.ok);
  t.is(result.firstBadSeq, 1);
  t.regex(result.problem ?? "", /cannot read/);
});

test("an anchor lets a log whose head part was archived prove it continues", (t) => {
  const { path, events } = makeLog();
  tamper(path, (db) => db.prepare("DELETE FROM events WHERE seq <= 4").run());
  bad(t, verifyAuditLog(path), 1, /missing/);
  const anchored = verifyAuditLog(path, { anchor: { seq: 4, hash: events[3].hash } });
  t.like(anchored, { ok: true, count: N - 4, headSeq: N, headHash: events[N - 1].hash });
  const wrong = verifyAuditLog(path, { anchor: { seq: 4, hash: events[2].hash } });
  t.like(wrong, { ok: false, firstBadSeq: 5 });
});

test("ChainVerifier takes rows from anywhere and stops at the first failure", (t) => {
  const { events } = makeLog();
  const rows = events.map((e) => ({ ...e, details: JSON.stringify(e.details) }));
  const v = new ChainVerifier();
  for (const r of rows.slice(0, 3)) t.true(v.push(r));
  t.false(v.push({ seq: "4" }));
  t.false(v.push(rows[3]), "later rows are ignored");
  t.like(v.result(), { ok: false, count: 3, headSeq: 3, firstBadSeq: 4 });

  const types = new ChainVerifier();
  t.false(types.push({ ...rows[0], actor: 7 }));
  t.regex(types.result().problem ?? "", /column actor is not text/);
  const notObject = new ChainVerifier();
  t.false(notObject.push({ ...rows[0], details: "[1]" }));
  t.like(notObject.result(), { firstBadSeq: 1 });
  t.throws(() => new ChainVerifier({ seq: -1, hash: GENESIS_HASH }), { instanceOf: AuditError });
});

test("verify refuses missing files and foreign databases", (t) => {
  const dir = tempDir("audit-verify-");
  t.is(t.throws(() => verifyAuditLog(join(dir, "nope.db")), { instanceOf: AuditError })?.code, "not_found");
  const other = join(dir, "other.db");
  const db = new Database(other);
  db.exec("CREATE TABLE events (seq INTEGER PRIMARY KEY)");
  db.close();
  t.is(t.throws(() => verifyAuditLog(other), { instanceOf: AuditError })?.code, "unsupported_schema");
});
