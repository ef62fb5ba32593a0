import test from "ava";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { retryWhileBusy, type RetryClock } from "../../audit/busy-retry.js";
import { AuditLog } from "../../audit/store.js";

/** A clock that only moves when the retry sleeps, recording each pause. */
function fakeClock(): RetryClock & { pauses: number[] } {
  let t = 0;
  const pauses: number[] = [];
  return { pauses, now: () => t, sleep: (ms) => (pauses.push(ms), (t += ms)) };
}

const busy = (): Error => Object.assign(new Error("database is locked"), { code: "SQLITE_BUSY" });

test("a step refused as busy is tried again after growing pauses until it succeeds", (t) => {
  const clock = fakeClock();
  let calls = 0;
  const v = retryWhileBusy(
    () => {
      if (++calls < 4) throw busy();
      return "done";
    },
    5000,
    clock,
  );
  t.is(v, "done");
  t.is(calls, 4);
  t.deepEqual(clock.pauses, [2, 4, 8]);
});

test("other errors are not retried; a busy step gives up once the timeout has passed, with SQLite's error", (t) => {
  const clock = fakeClock();
  let calls = 0;
  const other = t.throws(() =>
    retryWhileBusy(
      () => {
        calls++;
        throw Object.assign(new Error("disk I/O error"), { code: "SQLITE_IOERR" });
      },
      5000,
      clock,
    ),
  );
  t.is(other?.message, "disk I/O error");
  t.is(calls, 1);
  t.deepEqual(clock.pauses, []);

  const err = t.throws(() => retryWhileBusy(() => { throw busy(); }, 1000, clock));
  t.is((err as Error & { code?: string }).code, "SQLITE_BUSY");
  // pauses double up to 100 ms, and the last one stops at the deadline
  t.deepEqual(clock.pauses.slice(0, 8), [2, 4, 8, 16, 32, 64, 100, 100]);
  t.is(clock.pauses.reduce((a, b) => a + b, 0), 1000);
  t.true(clock.pauses.every((p) => p > 0 && p <= 100));

  const none = fakeClock();
  t.throws(() => retryWhileBusy(() => { throw busy(); }, 0, none));
  t.deepEqual(none.pauses, []);
});

const OPENER = fileURLToPath(new URL("./helpers/opener.js", import.meta.url));

/** Exit code and output of one opener process. */
function opener(path: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [OPENER, path], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.on("exit", (code) => resolve({ code, out }));
  });
}

test("eight processes creating, switching to WAL and migrating one new log at once all open it", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "audit-open-race-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (let round = 0; round < 4; round++) {
    const path = join(dir, `audit-${round}.db`);
    const results = await Promise.all(Array.from({ length: 8 }, () => opener(path)));
    t.deepEqual(
      results.filter((r) => r.code !== 0).map((r) => r.out.trim()),
      [],
      `round ${round}`,
    );
    const log = AuditLog.open(path, { readonly: true });
    t.is(log.count(), 8);
    log.close();
  }
});
