/**
 * Child process for the kill -9 test (not a test file itself):
 *   node kill9-appender.js <db path> <key file>
 * Appends in a tight loop (every 7th round a batch of 3) with signed
 * checkpoints every 50 events, and writes "seq hash" to stdout for each
 * event only after its append returned. Stops by itself after 20 s.
 */
import { writeSync } from "node:fs";
import { AuditLog } from "../../../audit/store.js";

const [path, keyFile] = process.argv.slice(2);

/** Blocking write of the whole line, also when stdout is a non-blocking pipe. */
function report(line: string): void {
  const buf = Buffer.from(line);
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(1, buf, off, buf.length - off);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EAGAIN") throw err;
    }
  }
}

const log = AuditLog.open(path, { busyTimeoutMs: 10_000, checkpoints: { keyFile, createKey: true, everyEvents: 50, everyMs: 0 } });
const stopAt = Date.now() + 20_000;
for (let i = 0; Date.now() < stopAt; i++) {
  const ev = { component: "test", action: "kill9", outcome: "success" as const, actor: `pid-${process.pid}`, details: { i } };
  const appended = i % 7 === 6 ? log.appendMany([ev, ev, ev]) : [log.append(ev)];
  report(appended.map((e) => `${e.seq} ${e.hash}\n`).join(""));
}
log.close();
