/**
 * The archive file: old events moved out of the database, as JSON lines.
 *
 *   {"type":"mesh-audit-archive","version":1,"from_seq":0,"from_hash":"000…","created":"…"}
 *   {"seq":1,"ts":…,"prev_hash":…,"hash":…}            one line per event, exactly as `export --format jsonl`
 *   {"type":"checkpoint","seq":1000,…}                  each signed checkpoint, right after its event
 *   {"type":"trailer","events":N,"head_seq":…,"head_hash":…,"anchor":{…kind "archive"…}}
 *
 * from_seq/from_hash is the event before the first line (genesis, or the
 * end of the previous archive), so archives chain one after another and the
 * database continues from the last one's anchor. The trailer's anchor is the
 * signed statement the database keeps (archive_anchor) when it drops these
 * events; a file without its trailer is incomplete.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { canonicalJson } from "./canonical.js";
import { GENESIS_ANCHOR, type ChainAnchor, type ChainResult } from "./chain.js";
import { checkpointProblem, checkpointRecord, toCheckpoint, type Checkpoint } from "./checkpoint.js";
import { AuditError } from "./errors.js";
import { formatJsonl } from "./export/jsonl.js";
import { writeAllSync } from "./fs-util.js";
import type { TrustedKeys } from "./keys.js";
import type { EventRow } from "./query.js";
import { SignedChain, type CheckpointSummary } from "./signed-chain.js";

export const ARCHIVE_TYPE = "mesh-audit-archive";
export const ARCHIVE_VERSION = 1;
/** An event line is at most ~20 KiB; anything near this is not an archive line. */
const MAX_LINE_BYTES = 1024 * 1024;
const CHUNK = 1024 * 1024;

/** Buffered, synchronous writer of one archive file (the caller owns and syncs the fd). */
export class ArchiveWriter {
  private buf = "";
  private readonly fd: number;

  constructor(fd: number) {
    this.fd = fd;
  }

  private put(line: string): void {
    this.buf += line;
    if (this.buf.length >= CHUNK) this.flush();
  }

  header(from: ChainAnchor, created: string): void {
    this.put(`${JSON.stringify({ type: ARCHIVE_TYPE, version: ARCHIVE_VERSION, from_seq: from.seq, from_hash: from.hash, created })}\n`);
  }

  event(row: EventRow): void {
    this.put(formatJsonl(row));
  }

  checkpoint(c: Checkpoint): void {
    this.put(`${JSON.stringify({ type: "checkpoint", ...checkpointRecord(c) })}\n`);
  }

  trailer(events: number, head: ChainAnchor, anchor: Checkpoint): void {
    this.put(`${JSON.stringify({ type: "trailer", events, head_seq: head.seq, head_hash: head.hash, anchor: checkpointRecord(anchor) })}\n`);
  }

  flush(): void {
    const data = this.buf;
    this.buf = "";
    writeAllSync(this.fd, data);
  }
}

/** Calls onLine for each line (without its LF) until it returns false. Throws on a line over MAX_LINE_BYTES. */
function eachLine(fd: number, onLine: (line: string, n: number) => boolean): void {
  const buf = Buffer.alloc(CHUNK);
  let carry = Buffer.alloc(0);
  let n = 0;
  for (;;) {
    const got = readSync(fd, buf, 0, buf.length, null);
    if (got === 0) break;
    let data = carry.length > 0 ? Buffer.concat([carry, buf.subarray(0, got)]) : buf.subarray(0, got);
    let start = 0;
    for (let i = data.indexOf(10); i !== -1; i = data.indexOf(10, start)) {
      if (!onLine(data.toString("utf8", start, i), ++n)) return;
      start = i + 1;
    }
    data = data.subarray(start);
    if (data.length > MAX_LINE_BYTES) throw new AuditError("bad_archive", `line ${n + 1} is longer than ${MAX_LINE_BYTES} bytes`);
    carry = Buffer.from(data);
  }
  if (carry.length > 0) onLine(carry.toString("utf8"), ++n);
}

export interface ArchiveCheck {
  result: ChainResult & { checkpoints: CheckpointSummary };
  /** The last event of the file (where the next part continues). */
  end: ChainAnchor;
  /** The signed anchor of the trailer. */
  anchor?: Checkpoint;
}

function parseHeader(line: string): ChainAnchor | undefined {
  let h: unknown;
  try {
    h = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof h !== "object" || h === null) return undefined;
  const r = h as Record<string, unknown>;
  if (r.type !== ARCHIVE_TYPE || r.version !== ARCHIVE_VERSION) return undefined;
  if (typeof r.from_seq !== "number" || !Number.isSafeInteger(r.from_seq) || r.from_seq < 0 || typeof r.from_hash !== "string") return undefined;
  return { seq: r.from_seq, hash: r.from_hash };
}

/** An event line as a table row: details back to the canonical text the hash covers. */
function asRow(r: Record<string, unknown>): Record<string, unknown> {
  let details: unknown = r.details;
  if (typeof details === "object" && details !== null && !Array.isArray(details)) {
    try {
      details = canonicalJson(details);
    } catch {
      details = null;
    }
  } else details = null;
  return { ...r, details };
}

/**
 * Verifies one archive file: chain and checkpoints from its header, the
 * trailer's head and signed anchor; with expectFrom, that it starts exactly
 * there. Throws AuditError not_found for a missing file; anything wrong
 * inside is reported in the result with the first bad seq.
 */
export function verifyArchiveFile(path: string, keys: TrustedKeys, expectFrom: ChainAnchor = GENESIS_ANCHOR): ArchiveCheck {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new AuditError(code === "ENOENT" ? "not_found" : "bad_archive", `cannot read archive ${path}: ${(err as Error).message}`, { cause: err });
  }
  const sc = new SignedChain(expectFrom, keys);
  let anchor: Checkpoint | undefined;
  let trailer = false;
  try {
    if (!fstatSync(fd).isFile()) throw new AuditError("bad_archive", `${path} is not a regular file`);
    eachLine(fd, (line, n) => {
      if (n === 1) {
        const from = parseHeader(line);
        if (from === undefined) sc.fail("not an audit archive: the first line is not its header", expectFrom.seq + 1);
        else if (from.seq !== expectFrom.seq || from.hash !== expectFrom.hash) sc.fail(`the archive starts after seq ${from.seq}, not after seq ${expectFrom.seq} where the previous part ends`, expectFrom.seq + 1);
        return !sc.failed;
      }
      if (trailer) {
        sc.fail(`line ${n} follows the trailer`);
        return false;
      }
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch {
        sc.fail(`line ${n} is not JSON`);
        return false;
      }
      if (typeof v !== "object" || v === null || Array.isArray(v)) {
        sc.fail(`line ${n} is not a JSON object`);
        return false;
      }
      const r = v as Record<string, unknown>;
      if (r.type === undefined) return sc.pushEvent(asRow(r));
      if (r.type === "checkpoint") return sc.pushCheckpoint(r);
      if (r.type !== "trailer") {
        sc.fail(`line ${n} has an unknown type`);
        return false;
      }
      trailer = true;
      const head = sc.head;
      if (r.head_seq !== head.seq || r.head_hash !== head.hash || r.events !== sc.chain.verified) {
        sc.fail(`the trailer names head seq ${String(r.head_seq)} and ${String(r.events)} events, but the file ends at seq ${head.seq} after ${sc.chain.verified}`);
        return false;
      }
      const problem = checkpointProblem(keys, r.anchor, "anchor");
      anchor = toCheckpoint(r.anchor);
      if (problem !== undefined || anchor === undefined) sc.fail(problem ?? "the trailer's anchor is malformed", head.seq);
      else if (anchor.seq !== head.seq || anchor.hash !== head.hash) sc.fail(`the trailer's anchor signs seq ${anchor.seq}, not the file's last event ${head.seq}`, head.seq);
      return !sc.failed;
    });
  } catch (err) {
    if (!(err instanceof AuditError && err.code === "bad_archive")) throw err;
    sc.fail(err.message);
  } finally {
    closeSync(fd);
  }
  if (!sc.failed && !trailer) {
    sc.fail(sc.head.seq === expectFrom.seq && sc.chain.verified === 0 ? "not an audit archive, or an empty file" : "the archive has no trailer (cut off or still being written)");
  }
  const result = sc.result();
  const summary = sc.summary();
  // The trailer's anchor signs the head, so nothing in a complete archive is unsigned.
  const checkpoints = result.ok ? { ...summary, lastSeq: sc.head.seq, unsigned: 0 } : summary;
  return { result: { ...result, checkpoints }, end: sc.head, anchor };
}
