/**
 * `mesh audit verify` and `mesh audit archive` as child processes: exit 0
 * only when everything holds, 1 on tampering or an error (a missing
 * database included), 2 on usage errors; the archive round trip through
 * the CLI with the default key locations.
 */
import test from "ava";
import Database from "better-sqlite3";
import { join } from "node:path";
import { mesh } from "../helpers/mesh-cli.js";
import type { VerifyResult } from "../../audit/verify.js";
import { makeSignedLog, removeTempDirs, tamper } from "./helpers/signed-log.js";

test.after.always(removeTempDirs);

test("verify: exit 0 when intact, 1 naming the first bad seq, 1 for a missing database, 2 for usage", async (t) => {
  const good = makeSignedLog(23);
  const cut = makeSignedLog(23);
  tamper(cut.path, (db) => db.prepare("DELETE FROM events WHERE seq >= 18").run());
  const [ok, json, tampered, missing, noKeys, usage, noDb] = await Promise.all([
    mesh(["audit", "verify", "--db", good.path]),
    mesh(["audit", "verify", "--db", good.path, "--json", "--max-unsigned", "0"]),
    mesh(["audit", "verify", "--db", cut.path]),
    mesh(["audit", "verify", "--db", join(good.dir, "nope.db")]),
    mesh(["audit", "verify", "--db", good.path, "--keys", join(good.dir, "nope.keys")]),
    mesh(["audit", "verify", "--db", good.path, "--max-unsigned", "lots"]),
    mesh(["audit", "verify"]),
  ]);
  t.is(ok.status, 0, ok.stderr);
  t.regex(ok.stdout, /^ok: 23 events, chain intact, head seq 23 [0-9a-f]{64}\ncheckpoints: 5 signed checkpoints verified; last signed seq 23, 0 events after it\n$/);
  t.is(json.status, 0, json.stderr);
  t.like(JSON.parse(json.stdout) as VerifyResult, { ok: true, count: 23, checkpoints: { count: 5, lastSeq: 23, unsigned: 0 } });
  t.is(tampered.status, 1);
  t.regex(tampered.stdout, /^TAMPERED: first bad seq 18: the log ends at seq 17 but a checkpoint signed seq 20/);
  t.is(missing.status, 1);
  t.regex(missing.stderr, /^mesh: not_found: no audit log at .*nope\.db\n$/);
  t.is(noKeys.status, 1);
  t.regex(noKeys.stderr, /not_found: no key file at .*nope\.keys/);
  t.is(usage.status, 2);
  t.regex(usage.stderr, /--max-unsigned takes a whole number/);
  t.is(noDb.status, 2);
});

test("archive through the CLI, then verify the database alone and with the archive", async (t) => {
  const log = makeSignedLog(30);
  const out = join(log.dir, "old.jsonl");
  const [usage, badTime] = await Promise.all([
    mesh(["audit", "archive", "--db", log.path, "--out", out]),
    mesh(["audit", "archive", "--db", log.path, "--out", out, "--before", "last tuesday"]),
  ]);
  t.is(usage.status, 2);
  t.regex(usage.stderr, /exactly one of --before and --upto-seq/);
  t.is(badTime.status, 2);

  const archived = await mesh(["audit", "archive", "--db", log.path, "--upto-seq", "12", "--out", out]);
  t.is(archived.status, 0, archived.stderr);
  t.regex(archived.stdout, /^archived events 1\.\.12 \(12 events, 2 checkpoints\) to .*old\.jsonl; the log now continues from seq 12\n$/);
  const again = await mesh(["audit", "archive", "--db", log.path, "--upto-seq", "12", "--out", join(log.dir, "again.jsonl"), "--json"]);
  t.is(again.status, 0, again.stderr);
  t.like(JSON.parse(again.stdout) as object, { events: 0, uptoSeq: 12 });

  const [alone, both, wrong] = await Promise.all([
    mesh(["audit", "verify", "--db", log.path]),
    mesh(["audit", "verify", "--db", log.path, "--archive", out]),
    mesh(["audit", "verify", "--db", log.path, "--archive", out, "--archive", out]),
  ]);
  t.is(alone.status, 0, alone.stdout);
  t.regex(alone.stdout, /ok: 18 events, chain intact \(continuing the anchor at seq 12\)/);
  t.regex(alone.stdout, /warning: events 1\.\.12 were archived/);
  t.is(both.status, 0, both.stdout);
  t.regex(both.stdout, /^ok: 30 events, chain intact \(continuing the archives at seq 12\)/);
  t.is(wrong.status, 1);
  t.regex(wrong.stdout, /TAMPERED: first bad seq 13: archive .*old\.jsonl: the archive starts after seq 0, not after seq 12/);

  // Tampering with what is left is found, and archiving then refuses to go on.
  tamper(log.path, (db: Database.Database) => db.prepare("UPDATE events SET reason = 'x' WHERE seq = 20").run());
  const bad = await mesh(["audit", "verify", "--db", log.path, "--archive", out]);
  t.is(bad.status, 1);
  t.regex(bad.stdout, /first bad seq 20: seq 20: hash mismatch/);
  const refused = await mesh(["audit", "archive", "--db", log.path, "--upto-seq", "25", "--out", join(log.dir, "x.jsonl")]);
  t.is(refused.status, 1);
  t.regex(refused.stderr, /verify_failed: the log does not verify \(first bad seq 20/);
});
