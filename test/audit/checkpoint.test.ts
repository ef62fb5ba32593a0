/**
 * Signed checkpoints: when writers sign, and what verify finds with them
 * that a hash chain alone cannot (a rebuilt chain, a cut-off tail, forged
 * or edited checkpoints), each naming the first bad seq.
 */
import test, { type ExecutionContext } from "ava";
import Database from "better-sqlite3";
import { chmodSync, renameSync, statSync } from "node:fs";
import { join } from "node:path";
import { signCheckpoint, type Checkpoint } from "../../audit/checkpoint.js";
import { AuditError } from "../../audit/errors.js";
import { TrustedKeys, createSigningKey, generateSigningKey, loadSigningKey, openSigningKey } from "../../audit/keys.js";
import { AuditLog } from "../../audit/store.js";
import { verifyAuditLog, type VerifyResult } from "../../audit/verify.js";
import { input, makeSignedLog, rebuildFrom, removeTempDirs, rowOf, steppingClock, tamper, tempDir } from "./helpers/signed-log.js";

test.after.always(removeTempDirs);

const N = 23; // checkpoints (every 5) at 5, 10, 15, 20, and 23 on close

function bad(t: ExecutionContext, r: VerifyResult, seq: number, problem: RegExp): void {
  t.false(r.ok);
  t.is(r.firstBadSeq, seq, r.problem);
  t.regex(r.problem ?? "", problem);
  t.is(r.count, seq - 1, "rows before the bad one are proven good");
  t.is(r.headSeq, seq - 1);
}

function checkpointsOf(path: string): Checkpoint[] {
  const db = new Database(path, { readonly: true });
  const rows = db.prepare("SELECT seq, hash, ts, kind, key_id AS keyId, signature FROM checkpoints ORDER BY seq").all() as Checkpoint[];
  db.close();
  return rows;
}

test("a writer signs every N events and on close, and the log verifies with its keys file", (t) => {
  const log = makeSignedLog(N);
  const cps = checkpointsOf(log.path);
  t.deepEqual(cps.map((c) => [c.seq, c.kind]), [[5, "count"], [10, "count"], [15, "count"], [20, "count"], [23, "close"]]);
  for (const c of cps) {
    t.is(c.hash, log.events[c.seq - 1].hash);
    t.is(c.keyId, log.key.keyId);
  }
  const r = verifyAuditLog(log.path);
  t.like(r, { ok: true, count: N, headSeq: N, checkpoints: { count: 5, lastSeq: N, unsigned: 0 } });
  t.is(r.warnings, undefined);
  // The key file is private; the keys file holds its public half.
  t.is(statSync(join(log.dir, "audit.db.key")).mode & 0o777, 0o600);
  t.true(TrustedKeys.load(log.keysFile).has(log.key.keyId));
});

test("a batch crossing a multiple signs its last event once; the time rule signs by the log's clock", (t) => {
  const dir = tempDir();
  const key = generateSigningKey();
  const batch = AuditLog.open(join(dir, "batch.db"), { checkpoints: { key, everyEvents: 5, everyMs: 0, onClose: false } });
  batch.appendMany([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].map(input));
  batch.appendMany([13, 14].map(input));
  batch.close();
  t.deepEqual(checkpointsOf(join(dir, "batch.db")).map((c) => c.seq), [12]);

  // 4 s per clock reading, a checkpoint at most every 10 s: every third append signs.
  const path = join(dir, "time.db");
  const log = AuditLog.open(path, { clock: steppingClock(4000), checkpoints: { key, everyEvents: 0, everyMs: 10_000, timer: false, onClose: false } });
  for (let i = 1; i <= 7; i++) log.append(input(i));
  t.deepEqual(checkpointsOf(path).map((c) => [c.seq, c.kind]), [[3, "time"], [6, "time"]]);
  // Idle: the timer's job waits out the 10 s, signs the uncovered head once, then has nothing to do.
  t.is(log.checkpointIfDue(), undefined, "8 s after the last checkpoint");
  t.like(log.checkpointIfDue(), { seq: 7, kind: "time" });
  t.is(log.checkpointIfDue(), undefined);
  t.is(log.checkpointIfDue(), undefined, "due again, but the head is covered");
  t.like(log.checkpoint(), { seq: 7, kind: "manual" });
  t.is(log.checkpointKeyId, key.keyId);
  log.close();
  // The manual one re-signed seq 7 with the same key: one row per (seq, key).
  t.like(verifyAuditLog(path, { keys: TrustedKeys.of(key) }), { ok: true, checkpoints: { count: 3, lastSeq: 7, unsigned: 0 } });
});

test("an edited, deleted, inserted or reordered event is still named by the chain", (t) => {
  const edited = makeSignedLog(N);
  tamper(edited.path, (db) => db.prepare("UPDATE events SET actor = 'mallory' WHERE seq = 7").run());
  bad(t, verifyAuditLog(edited.path), 7, /hash mismatch/);

  const deleted = makeSignedLog(N);
  tamper(deleted.path, (db) => db.prepare("DELETE FROM events WHERE seq = 12").run());
  bad(t, verifyAuditLog(deleted.path), 12, /seq 12 is missing/);

  const inserted = makeSignedLog(N);
  tamper(inserted.path, (db) => {
    for (let s = N; s >= 9; s--) db.prepare("UPDATE events SET seq = seq + 1 WHERE seq = ?").run(s);
    db.prepare("INSERT INTO events SELECT 9, ts, component, action, outcome, 'mallory', subject, reason, details, prev_hash, hash FROM events WHERE seq = 8").run();
  });
  bad(t, verifyAuditLog(inserted.path), 9, /prev_hash|hash mismatch/);

  const reordered = makeSignedLog(N);
  tamper(reordered.path, (db) => {
    const a = rowOf(db, 3);
    const b = rowOf(db, 4);
    db.prepare("DELETE FROM events WHERE seq IN (3, 4)").run();
    const ins = db.prepare("INSERT INTO events VALUES (@seq, @ts, @component, @action, @outcome, @actor, @subject, @reason, @details, @prev_hash, @hash)");
    ins.run({ ...b, seq: 3 });
    ins.run({ ...a, seq: 4 });
  });
  bad(t, verifyAuditLog(reordered.path), 3, /prev_hash/);
});

test("a chain rebuilt with fresh hashes misses the next checkpoint: the damage starts after the last one that matched", (t) => {
  const log = makeSignedLog(N);
  tamper(log.path, (db) => rebuildFrom(db, 7, (r) => ({ ...r, actor: "mallory" })));
  bad(t, verifyAuditLog(log.path), 6, /events 6\.\.10 were rewritten/);
  // Without the checkpoints the forgery is perfect: this is what they add.
  tamper(log.path, (db) => db.exec("DELETE FROM checkpoints"));
  t.true(verifyAuditLog(log.path).ok);
});

test("a tail cut off before the last checkpoint is found at the first missing seq", (t) => {
  const log = makeSignedLog(N);
  tamper(log.path, (db) => db.prepare("DELETE FROM events WHERE seq >= 18").run());
  const r = verifyAuditLog(log.path);
  bad(t, r, 18, /ends at seq 17 but a checkpoint signed seq 20: events 18\.\.20 were removed/);
  t.is(r.headHash, log.events[16].hash);
});

test("events after the last checkpoint are reported as covered by the chain only, and maxUnsigned can refuse them", (t) => {
  const log = makeSignedLog(N, { onClose: false });
  const r = verifyAuditLog(log.path);
  t.like(r, { ok: true, checkpoints: { count: 4, lastSeq: 20, unsigned: 3 } });
  t.regex(r.warnings?.join("\n") ?? "", /3 events after seq 20 are covered by the hash chain only/);
  t.true(verifyAuditLog(log.path, { maxUnsigned: 3 }).ok);
  bad(t, verifyAuditLog(log.path, { maxUnsigned: 2 }), 21, /3 events after seq 20 are not covered/);
  // The limit of the design: cutting exactly those events (and nothing signed) is not visible.
  tamper(log.path, (db) => db.prepare("DELETE FROM events WHERE seq > 20").run());
  t.like(verifyAuditLog(log.path), { ok: true, headSeq: 20, checkpoints: { unsigned: 0 } });
});

test("forged, edited, foreign-key and mis-kinded checkpoints are found at their seq", (t) => {
  const garbage = makeSignedLog(N);
  tamper(garbage.path, (db) =>
    db.prepare("INSERT INTO checkpoints VALUES (12, ?, '2026-11-22T10:00:12.000Z', 'count', ?, ?)").run(garbage.events[11].hash, garbage.key.keyId, Buffer.alloc(64, 7).toString("base64")),
  );
  bad(t, verifyAuditLog(garbage.path), 12, /checkpoint at seq 12 has a bad signature/);

  const edited = makeSignedLog(N);
  tamper(edited.path, (db) => db.prepare("UPDATE checkpoints SET ts = '2027-01-01T00:00:00.000Z' WHERE seq = 15").run());
  bad(t, verifyAuditLog(edited.path), 15, /bad signature/);

  // A forger who rebuilt the chain signs new checkpoints with a key of their own.
  const foreign = makeSignedLog(N);
  const mallory = generateSigningKey();
  tamper(foreign.path, (db) => {
    rebuildFrom(db, 7, (r) => ({ ...r, actor: "mallory" }));
    db.exec("DELETE FROM checkpoints WHERE seq >= 10");
    for (const seq of [10, 15, 20, 23]) {
      const c = signCheckpoint(mallory, { seq, hash: rowOf(db, seq).hash as string, ts: "2026-11-22T11:00:00.000Z", kind: "count" });
      db.prepare("INSERT INTO checkpoints VALUES (?, ?, ?, ?, ?, ?)").run(c.seq, c.hash, c.ts, c.kind, c.keyId, c.signature);
    }
  });
  bad(t, verifyAuditLog(foreign.path), 10, new RegExp(`signed by key ${mallory.keyId}, which is not a trusted key`));

  // Even a genuine signature does not let a checkpoint pose as an archive anchor, or the reverse.
  const kinded = makeSignedLog(N);
  tamper(kinded.path, (db) => {
    const c = signCheckpoint(kinded.key, { seq: 12, hash: kinded.events[11].hash, ts: "2026-11-22T10:00:12.000Z", kind: "archive" });
    db.prepare("INSERT INTO checkpoints VALUES (?, ?, ?, ?, ?, ?)").run(c.seq, c.hash, c.ts, c.kind, c.keyId, c.signature);
  });
  bad(t, verifyAuditLog(kinded.path), 12, /has kind archive/);
});

test("checkpoints without trusted keys fail, naming the missing keys file; another keys file can be given", (t) => {
  const log = makeSignedLog(N);
  const moved = join(log.dir, "elsewhere.pem");
  renameSync(log.keysFile, moved);
  bad(t, verifyAuditLog(log.path), 5, /not a trusted key \(no trusted keys: .*audit\.db\.keys does not exist; pass --keys\)/);
  t.like(verifyAuditLog(log.path, { keysFile: moved }), { ok: true, checkpoints: { count: 5 } });
  t.is(t.throws(() => verifyAuditLog(log.path, { keysFile: log.keysFile }), { instanceOf: AuditError })?.code, "not_found");
  // A keys file others could write is no anchor of trust: said so.
  chmodSync(moved, 0o666);
  t.regex(verifyAuditLog(log.path, { keysFile: moved }).warnings?.join("\n") ?? "", /writable by group or others/);
});

test("dropped or altered guard triggers are warnings, not failures", (t) => {
  const log = makeSignedLog(N);
  const db = new Database(log.path);
  db.exec("DROP TRIGGER checkpoints_no_delete; DROP TRIGGER events_no_update; CREATE TRIGGER events_no_update BEFORE UPDATE ON events BEGIN SELECT 1; END;");
  db.close();
  const r = verifyAuditLog(log.path);
  t.true(r.ok);
  t.deepEqual(r.warnings, ["append-only trigger events_no_update was altered", "append-only trigger checkpoints_no_delete is missing"]);
});

test("keys: created 0600 once even when raced, refused when readable by others, P-256 works too", (t) => {
  const dir = tempDir();
  const keyFile = join(dir, "k.pem");
  const keysFile = join(dir, "trusted.pem");
  const a = openSigningKey(keyFile, { create: true, trustedKeysFile: keysFile });
  const b = createSigningKey(keyFile, { trustedKeysFile: keysFile }); // lost the race: gets the existing key
  t.is(a.keyId, b.keyId);
  t.is(TrustedKeys.load(keysFile).size, 1);
  t.is(loadSigningKey(keyFile).keyId, a.keyId);
  chmodSync(keyFile, 0o640);
  t.is(t.throws(() => loadSigningKey(keyFile), { instanceOf: AuditError })?.code, "key_error");
  t.is(t.throws(() => openSigningKey(join(dir, "missing.pem")), { instanceOf: AuditError })?.code, "not_found");

  const p256 = generateSigningKey("p256");
  const path = join(dir, "p256.db");
  const log = AuditLog.open(path, { checkpoints: { key: p256, everyEvents: 2, everyMs: 0 } });
  for (let i = 1; i <= 5; i++) log.append(input(i));
  log.close();
  t.like(verifyAuditLog(path, { keys: TrustedKeys.of(p256) }), { ok: true, checkpoints: { count: 3, lastSeq: 5 } });
  t.like(verifyAuditLog(path, { keys: TrustedKeys.of(a) }), { ok: false, firstBadSeq: 2 });
});

test("a version 1 log is migrated in place and keeps verifying", (t) => {
  const dir = tempDir();
  const path = join(dir, "v1.db");
  const db = new Database(path);
  db.exec(`CREATE TABLE events (seq INTEGER PRIMARY KEY, ts TEXT NOT NULL, component TEXT NOT NULL, action TEXT NOT NULL, outcome TEXT NOT NULL,
    actor TEXT NOT NULL, subject TEXT NOT NULL, reason TEXT NOT NULL, details TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL) STRICT;
    CREATE INDEX events_ts ON events (ts); CREATE INDEX events_component_action ON events (component, action);
    CREATE TRIGGER events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused'); END;
    CREATE TRIGGER events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'audit events are append-only: DELETE refused'); END;
    PRAGMA application_id = ${0x4d534841}; PRAGMA user_version = 1;`);
  db.close();
  t.like(verifyAuditLog(path), { ok: true, count: 0 });
  const key = generateSigningKey();
  const log = AuditLog.open(path, { checkpoints: { key, everyEvents: 3, everyMs: 0 } });
  for (let i = 1; i <= 4; i++) log.append(input(i));
  log.close();
  const r = verifyAuditLog(path, { keys: TrustedKeys.of(key) });
  t.like(r, { ok: true, count: 4, checkpoints: { count: 2, lastSeq: 4 } });
  t.is(r.warnings, undefined, "the new triggers are in place");
});
