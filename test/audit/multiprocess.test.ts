import test from "ava";
import { fork, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { TrustedKeys } from "../../audit/keys.js";
import { AuditLog } from "../../audit/store.js";
import { verifyAuditLog } from "../../audit/verify.js";
import type { AppenderMessage } from "./helpers/appender.js";

const HELPER = fileURLToPath(new URL("./helpers/appender.js", import.meta.url));
const WAIT_MS = 20_000;

const dirs: string[] = [];
test.after.always(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempPath(): string {
  const dir = mkdtempSync(join(tmpdir(), "audit-mp-"));
  dirs.push(dir);
  return join(dir, "audit.db");
}

interface Appender {
  child: ChildProcess;
  messages: AppenderMessage[];
  reported: Map<number, string>;
  /** Resolves once a message satisfies pred (rejects on timeout, child error or early exit). */
  until(pred: (m: AppenderMessage) => boolean): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function spawnAppender(args: string[]): Appender {
  const child = fork(HELPER, args, { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const messages: AppenderMessage[] = [];
  const reported = new Map<number, string>();
  const waiters: { pred: (m: AppenderMessage) => boolean; resolve: () => void; reject: (e: Error) => void }[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => {
      for (const w of waiters.splice(0)) w.reject(new Error(`appender exited (${code ?? signal}) before the awaited message`));
      resolve({ code, signal });
    }),
  );
  child.on("message", (raw) => {
    const m = raw as AppenderMessage;
    messages.push(m);
    if (m.type === "seq") reported.set(m.seq, m.hash);
    for (const w of [...waiters]) {
      if (m.type === "error") w.reject(new Error(`appender failed: ${m.message}`));
      else if (w.pred(m)) w.resolve();
      else continue;
      waiters.splice(waiters.indexOf(w), 1);
    }
  });
  const until = (pred: (m: AppenderMessage) => boolean): Promise<void> => {
    if (messages.some(pred)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("timed out waiting for the appender")), WAIT_MS);
      waiters.push({
        pred,
        resolve: () => (clearTimeout(timer), resolve()),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
    });
  };
  return { child, messages, reported, until, exited };
}

test("four processes appending 10,000 events each at once keep one contiguous, valid, signed chain", async (t) => {
  const path = tempPath(); // fresh: the four also race to create and migrate it, and to create the signing key
  const PER = 10_000;
  const keyFile = `${path}.key`;
  const apps = ["w0", "w1", "w2", "w3"].map((tag) => spawnAppender([path, "burst", tag, String(PER), keyFile]));
  await Promise.all(apps.map((a) => a.until((m) => m.type === "ready")));
  for (const a of apps) a.child.send("go");
  await Promise.all(apps.map((a) => a.until((m) => m.type === "done")));
  for (const a of apps) t.is((await a.exited).code, 0);

  const log = AuditLog.open(path, { readonly: true });
  t.is(log.count(), 4 * PER);
  let expected = 1;
  const nextI = new Map<string, number>();
  for (const ev of log.query()) {
    t.is(ev.seq, expected++);
    // Each writer's own events keep their order.
    const i = nextI.get(ev.actor) ?? 0;
    if (ev.details.i !== i) t.fail(`${ev.actor}: expected i=${i} at seq ${ev.seq}, got ${String(ev.details.i)}`);
    nextI.set(ev.actor, i + 1);
  }
  log.close();
  t.deepEqual([...nextI.values()], [PER, PER, PER, PER]);
  const result = verifyAuditLog(path);
  t.true(result.ok, result.problem);
  t.is(result.count, 4 * PER);
  // One key won the race; each multiple of 1000 was signed by whichever writer reached it, and the head on close.
  t.is(TrustedKeys.load(`${path}.keys`).size, 1);
  t.true(result.checkpoints.count >= 40, `${result.checkpoints.count} checkpoints`);
  t.deepEqual(result.checkpoints, { count: result.checkpoints.count, lastSeq: 4 * PER, unsigned: 0 });
});

test("kill -9 mid-stream loses no acknowledged append and leaves a valid chain", async (t) => {
  const path = tempPath();
  const victim = spawnAppender([path, "stream", "victim"]);
  const survivor = spawnAppender([path, "stream", "survivor"]);
  await Promise.all([victim, survivor].map((a) => a.until((m) => m.type === "ready")));
  victim.child.send("go");
  survivor.child.send("go");

  await victim.until((m) => m.type === "seq" && victim.reported.size >= 300);
  victim.child.kill("SIGKILL");
  t.is((await victim.exited).signal, "SIGKILL");
  // The other writer is not blocked by whatever the killed one was doing.
  const before = survivor.reported.size;
  await survivor.until((m) => m.type === "seq" && survivor.reported.size >= before + 300);
  survivor.child.send("stop");
  await survivor.until((m) => m.type === "done");
  t.is((await survivor.exited).code, 0);

  const log = AuditLog.open(path);
  const stored = new Map<number, string>();
  for (const ev of log.query()) stored.set(ev.seq, ev.hash);
  let missing = 0;
  for (const app of [victim, survivor]) {
    for (const [seq, hash] of app.reported) if (stored.get(seq) !== hash) missing++;
  }
  t.is(missing, 0, "every reported append is in the log, unchanged");
  t.true(victim.reported.size >= 300);
  // The log keeps going after the crash.
  const next = log.append({ component: "test", action: "after", outcome: "success" });
  t.is(next.seq, stored.size + 1);
  log.close();
  const result = verifyAuditLog(path);
  t.true(result.ok, result.problem);
  t.is(result.count, stored.size + 1);
});
