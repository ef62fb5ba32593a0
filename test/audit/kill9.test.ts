/**
 * kill -9 of a writer in the middle of its appends: every event whose append
 * returned (the child reports it only then) is in the log with the same
 * hash, and the chain and its checkpoints verify. Three rounds on one file,
 * killed after different amounts of work, each starting on what the
 * previous kill left behind.
 */
import test from "ava";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { AuditLog } from "../../audit/store.js";
import { verifyAuditLog } from "../../audit/verify.js";
import { removeTempDirs, tempDir } from "./helpers/signed-log.js";

const HELPER = fileURLToPath(new URL("./helpers/kill9-appender.js", import.meta.url));
const kills: (() => void)[] = [];
test.after.always(() => {
  for (const k of kills) k();
  removeTempDirs();
});

/** Runs the appender until it has reported at least `after` events, kills it with SIGKILL, returns every complete report. */
function appendAndKill(db: string, keyFile: string, after: number): Promise<Map<number, string>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [HELPER, db, keyFile], { stdio: ["ignore", "pipe", "pipe"] });
    kills.push(() => child.kill("SIGKILL"));
    const reported = new Map<number, string>();
    let partial = "";
    let stderr = "";
    let killed = false;
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdout.on("data", (d: Buffer) => {
      const lines = (partial + d.toString()).split("\n");
      partial = lines.pop() ?? ""; // a line cut by the kill was never fully reported
      for (const line of lines) {
        const [seq, hash] = line.split(" ");
        reported.set(Number(seq), hash);
      }
      if (!killed && reported.size >= after) {
        killed = true;
        child.kill("SIGKILL");
      }
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (signal === "SIGKILL" && killed) resolve(reported);
      else reject(new Error(`appender ended with ${code ?? signal} before it was killed: ${stderr}`));
    });
  });
}

test("every append that returned survives kill -9 of the writer, and the log verifies", async (t) => {
  const dir = tempDir("audit-kill9-");
  const db = join(dir, "audit.db");
  const keyFile = join(dir, "audit.db.key");
  const all = new Map<number, string>();
  for (const after of [1500, 20, 3000]) {
    const reported = await appendAndKill(db, keyFile, after);
    t.true(reported.size >= after);
    for (const [seq, hash] of reported) all.set(seq, hash);
  }

  const log = AuditLog.open(db, { readonly: true });
  const stored = new Map<number, string>();
  for (const ev of log.query()) stored.set(ev.seq, ev.hash);
  log.close();
  const missing = [...all].filter(([seq, hash]) => stored.get(seq) !== hash).map(([seq]) => seq);
  t.deepEqual(missing, [], "every reported append is in the log, unchanged");
  t.true(stored.size >= all.size);

  const result = verifyAuditLog(db); // with the keys file the first child created
  t.true(result.ok, result.problem);
  t.is(result.count, stored.size);
  t.true(result.checkpoints.count >= Math.floor(all.size / 50) - 3, `${result.checkpoints.count} checkpoints`);
  t.true(result.checkpoints.unsigned < 50 + 3, "at most one interval of events after the last checkpoint");
});
