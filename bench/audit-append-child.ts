/**
 * One writer of the audit-append benchmark, as its own process:
 *   node audit-append-child.js '{"db":…,"keyFile":…,"count":…,"startAt":…,"durability":…}'
 * Opens the log as a production writer would (signed checkpoints), waits
 * until startAt (epoch ms) so all writers begin together, appends count
 * events, and prints {"events","startMs","endMs","firstSeq","lastSeq"}.
 */
import { AuditLog } from "../audit/store.js";
import { benchEvent } from "./lib/audit-events.js";

interface Job {
  db: string;
  keyFile: string;
  count: number;
  startAt: number;
  durability: "normal" | "full";
  tag: number;
}

const job = JSON.parse(process.argv[2] ?? "{}") as Job;
const log = AuditLog.open(job.db, { durability: job.durability, busyTimeoutMs: 60_000, checkpoints: { keyFile: job.keyFile } });
const wait = job.startAt - Date.now();
setTimeout(() => {
  const startMs = Date.now();
  let firstSeq = 0;
  let lastSeq = 0;
  for (let i = 0; i < job.count; i++) {
    const ev = log.append(benchEvent(job.tag * 1_000_000 + i));
    if (i === 0) firstSeq = ev.seq;
    lastSeq = ev.seq;
  }
  const endMs = Date.now();
  log.close();
  process.stdout.write(`${JSON.stringify({ events: job.count, startMs, endMs, firstSeq, lastSeq })}\n`);
}, Math.max(0, wait));
