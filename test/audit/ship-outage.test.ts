/**
 * At least once, through the API: a collector that dies mid-stream and comes
 * back (every seq arrives, in order once duplicates are dropped, and the
 * duplicates are only events after the last saved cursor), a collector that
 * never proves it read anything (the cursor does not move), a resumed run
 * sending only what is new, and a state file that belongs to another log.
 */
import test from "ava";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { readShipState, writeShipState } from "../../audit/export/ship-cursor.js";
import { ShipError } from "../../audit/export/ship-errors.js";
import { parseShipTarget } from "../../audit/export/ship-transport.js";
import { shipAuditLog, type ShipOptions } from "../../audit/export/ship.js";
import { AuditLog } from "../../audit/store.js";
import { shipFixture } from "../helpers/syslog-collector.js";

const fixture = shipFixture("ship-outage-");
const { tempDir, collector } = fixture;
test.after.always(fixture.cleanup);

function makeDb(dir: string, n: number): string {
  const path = join(dir, "audit.db");
  const log = AuditLog.open(path);
  for (let i = 0; i < n; i += 500) {
    log.appendMany(Array.from({ length: Math.min(500, n - i) }, (_, k) => ({ component: "proxy", action: "proxy.authz", outcome: "deny" as const, details: { i: i + k } })));
  }
  log.close();
  return path;
}

const seqOf = (jsonl: string): number => (JSON.parse(jsonl) as { seq: number }).seq;

/** The seqs in order of first arrival. */
function firstArrivals(seqs: number[]): number[] {
  const seen = new Set<number>();
  return seqs.filter((s) => (seen.has(s) ? false : (seen.add(s), true)));
}

const fast: Partial<ShipOptions> = { backoff: { baseMs: 20, maxMs: 200 }, pageSize: 100, session: { maxEvents: 500 } };

test("a collector that dies mid-stream and comes back: every seq arrives, in order after dedup, duplicates only after the saved cursor", async (t) => {
  const dir = tempDir();
  const N = 3000;
  const db = makeDb(dir, N);
  const statePath = join(dir, "state");
  /** The saved cursor when the collector died: nothing at or below it may arrive twice. */
  let cursorAtOutage = -1;
  let restarted = false;
  const c = await collector({
    onFrame: (_f, col) => {
      if (col.frames.length === 1234 && !restarted) {
        cursorAtOutage = readShipState(statePath)?.lastSeq ?? 0;
        void col.stop().then(() => setTimeout(() => void col.restart().then(() => (restarted = true)), 300));
      }
    },
  });
  const retries: string[] = [];
  const r = await shipAuditLog({ ...fast, db, format: "jsonl", target: parseShipTarget(`tcp://127.0.0.1:${c.port}`), statePath, timeoutMs: 10_000, onRetry: (i) => retries.push(i.error.message) });
  t.true(restarted);
  t.true(retries.length >= 1, "the outage was noticed and retried");
  t.log(`outage at cursor ${cursorAtOutage}; ${retries.length} retries (${retries[0]}); ${r.resent} events written again`);

  const seqs = c.frames.map((f) => seqOf(f.text));
  t.deepEqual(firstArrivals(seqs), Array.from({ length: N }, (_, i) => i + 1), "every seq arrived, in seq order after dedup");
  const seen = new Map<number, number>();
  for (const s of seqs) seen.set(s, (seen.get(s) ?? 0) + 1);
  const dups = [...seen].filter(([, n]) => n > 1).map(([s]) => s);
  t.true(dups.every((s) => s > cursorAtOutage), `duplicates ${dups[0]}..${dups[dups.length - 1]} must all lie after cursor ${cursorAtOutage}`);
  t.true(dups.length <= 500, `${dups.length} duplicates: at most one session (500 events)`);
  t.true(cursorAtOutage >= 500, "sessions before the outage had been proven and saved");
  t.is(seqs.length - N, dups.length);
  t.true(r.resent >= dups.length, "the result counts what was written again (some of it died with the collector)");
  t.is(r.lastSeq, N);
  t.is(readShipState(statePath)?.lastSeq, N);
  t.deepEqual(c.errors.filter((e) => !e.includes("ended inside a frame")), []);
});

test("a collector that never closes its side proves nothing: the cursor stays, the run fails after the timeout", async (t) => {
  const dir = tempDir();
  const db = makeDb(dir, 50);
  const statePath = join(dir, "state");
  const c = await collector({ neverClose: true });
  const started = Date.now();
  const err = await t.throwsAsync(
    shipAuditLog({ ...fast, db, format: "jsonl", target: parseShipTarget(`tcp://127.0.0.1:${c.port}`), statePath, timeoutMs: 1200, closeTimeoutMs: 200 }),
    { instanceOf: ShipError },
  );
  const took = Date.now() - started;
  t.is(err?.code, "delivery_timeout");
  t.regex(err?.message ?? "", /closing the connection/);
  t.true(took < 6000, `gave up after ${took} ms`);
  t.true(c.frames.length >= 50, "the bytes did arrive, but arrival was never proven");
  t.false(existsSync(statePath), "no cursor saved");
});

test("a second run sends only the events appended since, and a refused connection is retried until the timeout", async (t) => {
  const dir = tempDir();
  const db = makeDb(dir, 20);
  const statePath = join(dir, "state");
  const c = await collector();
  const target = parseShipTarget(`tcp://127.0.0.1:${c.port}`);
  const first = await shipAuditLog({ ...fast, db, format: "syslog", target, statePath });
  t.is(first.lastSeq, 20);
  const log = AuditLog.open(db);
  for (let i = 0; i < 5; i++) log.append({ component: "ca", action: "ca.sign", outcome: "success" });
  log.close();
  const second = await shipAuditLog({ ...fast, db, format: "syslog", target, statePath });
  t.deepEqual([second.delivered, second.lastSeq], [5, 25]);
  const seqs = c.frames.map((f) => Number(/seq="(\d+)"/.exec(f.text)?.[1]));
  t.deepEqual(seqs, Array.from({ length: 25 }, (_, i) => i + 1));
  const nothing = await shipAuditLog({ ...fast, db, format: "syslog", target, statePath });
  t.deepEqual([nothing.delivered, nothing.connections], [0, 0], "nothing new: not even a connection");

  await c.stop();
  const log2 = AuditLog.open(db);
  log2.append({ component: "ca", action: "ca.sign", outcome: "success" });
  log2.close();
  const retries: number[] = [];
  const err = await t.throwsAsync(
    shipAuditLog({ ...fast, db, format: "syslog", target, statePath, timeoutMs: 600, onRetry: (i) => retries.push(i.delayMs) }),
    { instanceOf: ShipError },
  );
  t.is(err?.code, "delivery_timeout");
  t.regex(err?.message ?? "", /ECONNREFUSED/);
  t.true(retries.length >= 2, `retried ${retries.length} times`);
  t.true(retries.every((d) => d >= 10 && d <= 200), retries.join());
  t.is(readShipState(statePath)?.lastSeq, 25, "the cursor did not move");
});

test("a state file from another log (or past its head) is refused, not silently skipped", async (t) => {
  const dir = tempDir();
  const db = makeDb(dir, 10);
  const c = await collector();
  const target = parseShipTarget(`tcp://127.0.0.1:${c.port}`);
  const statePath = join(dir, "state");
  writeShipState(statePath, { lastSeq: 5, lastHash: "c".repeat(64), to: target.url, savedAt: "" });
  const other = await t.throwsAsync(shipAuditLog({ db, format: "jsonl", target, statePath }), { instanceOf: ShipError });
  t.is(other?.code, "state_mismatch");
  t.regex(other?.message ?? "", /another event there/);
  writeShipState(statePath, { lastSeq: 11, lastHash: "c".repeat(64), to: target.url, savedAt: "" });
  const past = await t.throwsAsync(shipAuditLog({ db, format: "jsonl", target, statePath }), { instanceOf: ShipError });
  t.regex(past?.message ?? "", /no such event/);
  t.is(c.connections, 0);
});

test("follow: new events are shipped while running, and stopping proves and saves what was sent", async (t) => {
  const dir = tempDir();
  const db = makeDb(dir, 3);
  const statePath = join(dir, "state");
  const c = await collector();
  const stop = new AbortController();
  const running = shipAuditLog({ db, format: "jsonl", target: parseShipTarget(`tcp://127.0.0.1:${c.port}`), statePath, follow: true, pollMs: 20, session: { idleMs: 60_000, maxMs: 60_000 }, signal: stop.signal });
  t.true(await c.waitFor(() => c.frames.length === 3, 5000));
  const log = AuditLog.open(db);
  const appendedAt = Date.now();
  log.append({ component: "ca", action: "ca.sign", outcome: "success" });
  log.close();
  t.true(await c.waitFor(() => c.frames.length === 4, 2000));
  t.true(c.frames[3].at - appendedAt < 1000);
  t.is(readShipState(statePath), undefined, "the session is still open (idleMs and maxMs are long): not proven yet");
  stop.abort();
  const r = await running;
  t.is(r.lastSeq, 4);
  t.is(readShipState(statePath)?.lastSeq, 4);
});
