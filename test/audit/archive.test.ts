/**
 * Retention: archiving old events to a file, removing them behind a signed
 * anchor, and verify proving the rest continues the archive — plus what an
 * attacker with write access to the database (but not the key) could try
 * with the anchor.
 */
import test, { type ExecutionContext } from "ava";
import Database from "better-sqlite3";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { archiveAuditLog, removeArchived, type ArchiveOptions } from "../../audit/archive.js";
import { verifyArchiveFile } from "../../audit/archive-file.js";
import { signCheckpoint } from "../../audit/checkpoint.js";
import { AuditError } from "../../audit/errors.js";
import { TrustedKeys, generateSigningKey } from "../../audit/keys.js";
import { AuditLog } from "../../audit/store.js";
import { verifyAuditLog } from "../../audit/verify.js";
import { input, makeSignedLog, removeTempDirs, rowOf, steppingClock, tamper, type SignedLog } from "./helpers/signed-log.js";

test.after.always(removeTempDirs);

const N = 30; // checkpoints at 5, 10, …, 30

function archive(log: SignedLog, o: Partial<ArchiveOptions> & { out?: string } = {}) {
  return archiveAuditLog({ db: log.path, out: o.out ?? join(log.dir, "a1.jsonl"), key: log.key, keys: TrustedKeys.load(log.keysFile), ...o });
}

/** t.like, plus a regex on one text field (t.like compares strings exactly). */
function likeWith(t: ExecutionContext, actual: object, expected: Record<string, unknown>, field: "problem" | "reason", re: RegExp): void {
  t.like(actual, expected);
  t.regex(String((actual as Record<string, unknown>)[field]), re);
}

function count(path: string, sql: string): number {
  const db = new Database(path, { readonly: true });
  const n = (db.prepare(sql).get() as { n: number }).n;
  db.close();
  return n;
}

test("archive moves events to a file, leaves a signed anchor, and verify proves both halves", (t) => {
  const log = makeSignedLog(N);
  const r = archive(log, { uptoSeq: 12 });
  t.like(r, { fromSeq: 0, uptoSeq: 12, events: 12, checkpoints: 2, anchor: { seq: 12, hash: log.events[11].hash, kind: "archive", keyId: log.key.keyId } });
  t.is(statSync(r.file!).mode & 0o777, 0o600);
  const lines = readFileSync(r.file!, "utf8").trimEnd().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
  t.like(lines[0], { type: "mesh-audit-archive", version: 1, from_seq: 0 });
  t.deepEqual(lines.filter((l) => l.type === undefined).map((l) => l.seq), Array.from({ length: 12 }, (_, i) => i + 1));
  t.deepEqual(lines.filter((l) => l.type === "checkpoint").map((l) => l.seq), [5, 10]);
  t.like(lines.at(-1), { type: "trailer", events: 12, head_seq: 12, head_hash: log.events[11].hash });
  t.is(count(log.path, "SELECT count(*) AS n FROM events"), N - 12);
  t.is(count(log.path, "SELECT min(seq) AS n FROM checkpoints"), 15, "checkpoints below the anchor went with the events");

  const alone = verifyAuditLog(log.path);
  t.like(alone, { ok: true, count: N - 12, headSeq: N, start: { seq: 12, from: "anchor" } });
  t.regex(alone.warnings?.join("\n") ?? "", /events 1\.\.12 were archived/);
  const both = verifyAuditLog(log.path, { archives: [r.file!] });
  t.like(both, { ok: true, count: N, archived: 12, headSeq: N, start: { seq: 12, from: "archives" } });
  t.is(both.warnings, undefined);

  // Appends carry on, and a second archive continues the first.
  const w = AuditLog.open(log.path, { checkpoints: { key: log.key, everyEvents: 5, everyMs: 0 } });
  t.is(w.append(input(31)).seq, 31);
  w.close();
  const r2 = archive(log, { uptoSeq: 25, out: join(log.dir, "a2.jsonl") });
  t.like(r2, { fromSeq: 12, uptoSeq: 25, events: 13 });
  t.like(verifyAuditLog(log.path, { archives: [r.file!, r2.file!] }), { ok: true, count: 31, archived: 25 });
  likeWith(t, verifyAuditLog(log.path, { archives: [r2.file!] }), { ok: false, firstBadSeq: 1 }, "problem", /starts after seq 12, not after seq 0/);
  t.like(verifyAuditLog(log.path, { archives: [r2.file!, r.file!] }), { ok: false, firstBadSeq: 1 });
  likeWith(t, verifyAuditLog(log.path, { archives: [r.file!] }), { ok: false, firstBadSeq: 13 }, "problem", /continues from an archive anchor at seq 25, but the archives end at seq 12/);
});

test("archiving everything: the next append continues from the anchor", (t) => {
  const log = makeSignedLog(N);
  const r = archive(log, { uptoSeq: 1000 });
  t.like(r, { uptoSeq: N, events: N });
  t.is(count(log.path, "SELECT count(*) AS n FROM events"), 0);
  const w = AuditLog.open(log.path, { checkpoints: { key: log.key, everyEvents: 5, everyMs: 0 } });
  t.deepEqual(w.head(), { seq: N, hash: log.events[N - 1].hash });
  const next = w.append(input(31));
  t.like(next, { seq: N + 1, prev_hash: log.events[N - 1].hash });
  w.close();
  t.like(verifyAuditLog(log.path), { ok: true, count: 1, headSeq: N + 1 });
  t.like(verifyAuditLog(log.path, { archives: [r.file!] }), { ok: true, count: N + 1 });
});

test("--before archives the events before a time; the bound stops at the last signed checkpoint", (t) => {
  // One event a second from 10:00:01 (the clock's first reading opens the log).
  const log = makeSignedLog(N, { clock: steppingClock(1000, Date.UTC(2026, 10, 22, 10, 0, 0)) });
  t.like(archive(log, { before: new Date(Date.UTC(2026, 10, 22, 10, 0, 8)) }), { uptoSeq: 7, events: 7 });

  const unsigned = makeSignedLog(N - 2, { onClose: false }); // last checkpoint at 25
  t.like(archive(unsigned, { uptoSeq: 28 }), { uptoSeq: 25 });
  likeWith(t, archive(unsigned, { uptoSeq: 28, out: join(unsigned.dir, "again.jsonl") }), { file: undefined, events: 0 }, "reason", /no signed checkpoint covers/);
  t.false(existsSync(join(unsigned.dir, "again.jsonl")));
  likeWith(t, archive(unsigned, { uptoSeq: 3, out: join(unsigned.dir, "old.jsonl") }), { events: 0 }, "reason", /no events after seq 25/);
});

test("a tampered log is not archived, an existing file is not overwritten, and bad options are refused", (t) => {
  const log = makeSignedLog(N);
  tamper(log.path, (db) => db.prepare("UPDATE events SET actor = 'mallory' WHERE seq = 4").run());
  const e = t.throws(() => archive(log, { uptoSeq: 10 }), { instanceOf: AuditError });
  t.is(e?.code, "verify_failed");
  t.regex(e?.message ?? "", /first bad seq 4/);
  t.false(existsSync(join(log.dir, "a1.jsonl")));
  t.is(count(log.path, "SELECT count(*) AS n FROM events"), N);

  const ok = makeSignedLog(N);
  writeFileSync(join(ok.dir, "taken.jsonl"), "mine\n");
  t.is(t.throws(() => archive(ok, { uptoSeq: 10, out: join(ok.dir, "taken.jsonl") }), { instanceOf: AuditError })?.code, "invalid_argument");
  t.is(readFileSync(join(ok.dir, "taken.jsonl"), "utf8"), "mine\n");
  t.is(count(ok.path, "SELECT count(*) AS n FROM events"), N);
  t.is(t.throws(() => archive(ok, {}), { instanceOf: AuditError })?.code, "invalid_argument");
  t.is(t.throws(() => archive(ok, { uptoSeq: 5, before: new Date() }), { instanceOf: AuditError })?.code, "invalid_argument");
  t.is(t.throws(() => archive(ok, { uptoSeq: 5, key: generateSigningKey() }), { instanceOf: AuditError })?.code, "key_error");
});

test("an edited, cut or forged archive file fails verify with the first bad seq", (t) => {
  const log = makeSignedLog(N);
  const r = archive(log, { uptoSeq: 20 });
  const keys = TrustedKeys.load(log.keysFile);
  const text = readFileSync(r.file!, "utf8");
  const variant = (name: string, fn: (lines: string[]) => string[]): string => {
    const path = join(log.dir, name);
    writeFileSync(path, fn(text.trimEnd().split("\n")).join("\n") + "\n");
    return path;
  };
  t.like(verifyArchiveFile(r.file!, keys).result, { ok: true, count: 20, checkpoints: { count: 4, lastSeq: 20, unsigned: 0 } });
  const edited = variant("edited.jsonl", (l) => l.map((x) => x.replace('"actor":"actor-9"', '"actor":"mallory"')));
  likeWith(t, verifyArchiveFile(edited, keys).result, { ok: false, firstBadSeq: 9 }, "problem", /hash mismatch/);
  const cut = variant("cut.jsonl", (l) => l.slice(0, 15)); // header, events 1..12 and checkpoints 5 and 10
  likeWith(t, verifyArchiveFile(cut, keys).result, { ok: false, firstBadSeq: 13 }, "problem", /no trailer/);
  const dropped = variant("dropped.jsonl", (l) => l.filter((x) => !x.startsWith('{"seq":3,')));
  likeWith(t, verifyArchiveFile(dropped, keys).result, { ok: false, firstBadSeq: 3 }, "problem", /seq 3 is missing/);
  const forged = variant("forged.jsonl", (l) => [...l.slice(0, -1), l.at(-1)!.replace(/"signature":"[^"]+"/, `"signature":"${Buffer.alloc(64).toString("base64")}"`)]);
  likeWith(t, verifyArchiveFile(forged, keys).result, { ok: false, firstBadSeq: 20 }, "problem", /archive anchor at seq 20 has a bad signature/);
  likeWith(t, verifyAuditLog(log.path, { archives: [edited] }), { ok: false, firstBadSeq: 9, count: 8 }, "problem", /^archive .*edited\.jsonl: seq 9/);
  t.is(t.throws(() => verifyAuditLog(log.path, { archives: [join(log.dir, "nope.jsonl")] }), { instanceOf: AuditError })?.code, "not_found");
});

test("the anchor cannot be abused by someone who can write the database but lacks the key", (t) => {
  const log = makeSignedLog(N);
  archive(log, { uptoSeq: 10 });
  // The triggers: events above the anchor stay, the anchor only moves forward onto a stored event.
  const db = new Database(log.path);
  t.throws(() => db.prepare("DELETE FROM events WHERE seq = 11").run(), { any: true, message: /append-only/ });
  t.throws(() => db.prepare("UPDATE archive_anchor SET seq = 5").run(), { any: true, message: /only moves forward/ });
  t.throws(() => db.prepare("UPDATE archive_anchor SET seq = 20, hash = ?").run("0".repeat(64)), { any: true, message: /only moves forward/ });
  t.throws(() => db.prepare("DELETE FROM archive_anchor").run(), { any: true, message: /cannot be removed/ });
  db.close();

  // Past the triggers: a genuine periodic checkpoint made into the anchor, to hide events 11..20.
  const copied = makeSignedLog(N);
  archive(copied, { uptoSeq: 10 });
  tamper(copied.path, (d) => {
    d.exec("UPDATE archive_anchor SET seq = c.seq, hash = c.hash, ts = c.ts, kind = c.kind, key_id = c.key_id, signature = c.signature FROM (SELECT * FROM checkpoints WHERE seq = 20) AS c");
    d.exec("DELETE FROM events WHERE seq <= 20");
  });
  likeWith(t, verifyAuditLog(copied.path), { ok: false, firstBadSeq: 1 }, "problem", /archive anchor at seq 20 has kind count/);

  // ... or re-labelled as an archive without the key to sign it.
  const relabelled = makeSignedLog(N);
  tamper(relabelled.path, (d) => {
    d.exec("INSERT INTO archive_anchor SELECT 1, seq, hash, ts, 'archive', key_id, signature FROM checkpoints WHERE seq = 20");
    d.exec("DELETE FROM events WHERE seq <= 20");
  });
  likeWith(t, verifyAuditLog(relabelled.path), { ok: false, firstBadSeq: 1 }, "problem", /archive anchor at seq 20 has a bad signature/);

  // Dropping the anchor row and the archived events shows as missing events.
  const dropped = makeSignedLog(N);
  archive(dropped, { uptoSeq: 10 });
  tamper(dropped.path, (d) => d.exec("DELETE FROM archive_anchor"));
  likeWith(t, verifyAuditLog(dropped.path), { ok: false, firstBadSeq: 1 }, "problem", /seq 1 is missing/);
});

test("an archive run cut short after moving the anchor leaves a log that verifies, and the next run cleans up", (t) => {
  const log = makeSignedLog(N);
  const anchor = signCheckpoint(log.key, { seq: 15, hash: log.events[14].hash, ts: "2026-11-22T12:00:00.000Z", kind: "archive" });
  const db = new Database(log.path);
  db.prepare("INSERT INTO archive_anchor VALUES (1, ?, ?, ?, ?, ?, ?)").run(anchor.seq, anchor.hash, anchor.ts, anchor.kind, anchor.keyId, anchor.signature);
  t.like(verifyAuditLog(log.path), { ok: true, count: 15, start: { seq: 15, from: "anchor" } });
  t.is(removeArchived(db, 4), 15);
  t.deepEqual(rowOf(db, 16).seq, 16);
  t.is((db.prepare("SELECT min(seq) AS s FROM events").get() as { s: number }).s, 16);
  db.close();
  t.like(verifyAuditLog(log.path), { ok: true, count: 15 });
});
