/**
 * Retention: move old events to an archive file (archive-file.ts), then
 * remove them from the database, leaving a signed archive anchor that the
 * rest of the chain continues from.
 *
 * The order makes every crash safe:
 * 1. verify the whole log with the trusted keys; refuse if anything is
 *    wrong (archiving must never launder a tampered stretch);
 * 2. pick the last seq to archive, N: the bound asked for, but never past
 *    the last verified checkpoint, so only events a signature already
 *    vouched for are moved;
 * 3. write the file (re-checking the chain while writing), sign the anchor
 *    (kind "archive") into its trailer, fsync, and link it into place — an
 *    existing file is never overwritten;
 * 4. in one transaction move archive_anchor to N (the triggers allow it
 *    only forward and onto a stored event with that hash);
 * 5. delete events (and checkpoints) at or below the anchor in batches of
 *    short transactions, so appends from other processes keep flowing.
 * A crash after 4 leaves rows below the anchor that verify ignores and the
 * next archive run deletes.
 */
import { closeSync, constants as fsConstants, fsyncSync, linkSync, openSync, unlinkSync } from "node:fs";
import Database from "better-sqlite3";
import { ArchiveWriter } from "./archive-file.js";
import { ChainVerifier, GENESIS_ANCHOR, type ChainAnchor } from "./chain.js";
import { ANCHOR_KIND, CHECKPOINT_COLUMNS, signCheckpoint, toCheckpoint, type Checkpoint } from "./checkpoint.js";
import { AuditError } from "./errors.js";
import { formatTimestamp } from "./event.js";
import { fsyncDirOf } from "./fs-util.js";
import type { SigningKey, TrustedKeys } from "./keys.js";
import { EVENT_COLUMNS, type EventRow } from "./query.js";
import { migrate } from "./schema.js";
import { storeError } from "./sqlite-util.js";
import { verifyAuditLog } from "./verify.js";

export interface ArchiveOptions {
  db: string;
  /** The archive file to create (must not exist). */
  out: string;
  /** Archive events with seq <= uptoSeq ... */
  uptoSeq?: number;
  /** ... or the events before this time (exactly one of the two). */
  before?: Date;
  /** Signs the anchor; must be one of keys. */
  key: SigningKey;
  /** The trusted keys the log is verified with first. */
  keys: TrustedKeys;
  clock?: () => Date;
  busyTimeoutMs?: number;
  /** Rows deleted per transaction. Default 5000. */
  batchSize?: number;
}

export interface ArchiveResult {
  /** The file written, or undefined when there was nothing to archive. */
  file?: string;
  /** The archived events are fromSeq+1..uptoSeq. */
  fromSeq: number;
  uptoSeq: number;
  events: number;
  checkpoints: number;
  /** The new anchor (undefined when nothing was archived). */
  anchor?: Checkpoint;
  /** Why nothing was archived. */
  reason?: string;
}

const PAGE = 2000;

function checkBounds(o: ArchiveOptions): void {
  if ((o.uptoSeq === undefined) === (o.before === undefined)) throw new AuditError("invalid_argument", "give exactly one of uptoSeq and before");
  if (o.uptoSeq !== undefined && (!Number.isSafeInteger(o.uptoSeq) || o.uptoSeq < 1)) throw new AuditError("invalid_argument", "uptoSeq must be an integer >= 1");
  if (o.before !== undefined && !(o.before instanceof Date && Number.isFinite(o.before.getTime()))) throw new AuditError("invalid_argument", "before must be a valid Date");
  if (!o.keys.has(o.key.keyId)) throw new AuditError("key_error", `the signing key ${o.key.keyId} is not among the trusted keys: add its public key first, or the archive would not verify`);
}

/** The last seq whose events all come before `before` (the first seq at or after it, minus one). */
function lastSeqBefore(db: Database.Database, before: Date, head: number): number {
  const row = db.prepare("SELECT min(seq) AS s FROM events WHERE ts >= ?").get(before.toISOString()) as { s: number | null };
  return row.s === null ? head : row.s - 1;
}

/** Writes events from+1..upto and their checkpoints; returns the chain end. Throws if the rows do not chain. */
function writeEvents(db: Database.Database, w: ArchiveWriter, from: ChainAnchor, upto: number): { end: ChainAnchor; events: number; checkpoints: number } {
  const chain = new ChainVerifier(from);
  const events = db.prepare<unknown[], EventRow>(`SELECT ${EVENT_COLUMNS} FROM events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?`);
  const cps = db.prepare(`SELECT ${CHECKPOINT_COLUMNS} FROM checkpoints WHERE seq > ? AND seq <= ? ORDER BY seq`).all(from.seq, upto);
  let ci = 0;
  let cursor = from.seq;
  for (;;) {
    const rows = events.all(cursor, upto, PAGE);
    for (const row of rows) {
      if (!chain.push(row)) throw new AuditError("verify_failed", `the log changed while it was being archived: ${chain.result().problem}`);
      w.event(row);
      for (; ci < cps.length && (cps[ci] as { seq: number }).seq === row.seq; ci++) {
        const c = toCheckpoint(cps[ci]);
        if (c !== undefined) w.checkpoint(c);
      }
    }
    if (rows.length < PAGE) break;
    cursor = rows[rows.length - 1].seq;
  }
  if (chain.head.seq !== upto) throw new AuditError("verify_failed", `events up to seq ${upto} are not all there (the chain ends at ${chain.head.seq})`);
  return { end: chain.head, events: chain.verified, checkpoints: ci };
}

/** Creates out (0600, never overwriting) with what write puts in it, synced to disk before it appears. */
function writeFileAtomically(out: string, write: (fd: number) => void): void {
  const tmp = `${out}.partial-${process.pid}`;
  let fd: number;
  try {
    fd = openSync(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
  } catch (err) {
    throw new AuditError("store_error", `cannot create ${tmp}: ${(err as Error).message}`, { cause: err });
  }
  try {
    try {
      write(fd);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    linkSync(tmp, out);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") throw new AuditError("invalid_argument", `${out} already exists; archives are never overwritten`);
    throw storeError(`cannot write archive ${out}`, err);
  } finally {
    unlinkSync(tmp);
  }
  fsyncDirOf(out);
}

/** Deletes rows at or below the anchor, batch by batch. Returns how many events went. */
export function removeArchived(db: Database.Database, batchSize = 5000): number {
  const anchor = db.prepare("SELECT seq FROM archive_anchor WHERE id = 1").get() as { seq: number } | undefined;
  if (anchor === undefined) return 0;
  const del = db.prepare("DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE seq <= ? ORDER BY seq LIMIT ?)");
  let removed = 0;
  for (;;) {
    const n = db.transaction(() => del.run(anchor.seq, batchSize).changes).immediate();
    removed += n;
    if (n < batchSize) break;
  }
  db.transaction(() => db.prepare("DELETE FROM checkpoints WHERE seq < ?").run(anchor.seq)).immediate();
  return removed;
}

/** Archives old events of the log at o.db into o.out. Throws AuditError (verify_failed when the log does not verify). */
export function archiveAuditLog(o: ArchiveOptions): ArchiveResult {
  checkBounds(o);
  const clock = o.clock ?? (() => new Date());
  const batch = o.batchSize ?? 5000;
  if (!Number.isSafeInteger(batch) || batch < 1) throw new AuditError("invalid_argument", "batchSize must be an integer >= 1");
  const v = verifyAuditLog(o.db, { keys: o.keys });
  if (!v.ok) throw new AuditError("verify_failed", `the log does not verify (first bad seq ${v.firstBadSeq}: ${v.problem}); nothing was archived`);
  let db: Database.Database;
  try {
    db = new Database(o.db, { fileMustExist: true, timeout: o.busyTimeoutMs ?? 5000 });
  } catch (err) {
    throw storeError(`cannot open audit log ${o.db}`, err);
  }
  try {
    migrate(db);
    const from: ChainAnchor = v.start.from === "anchor" ? { seq: v.start.seq, hash: v.start.hash } : GENESIS_ANCHOR;
    const nothing = (reason: string): ArchiveResult => ({ fromSeq: from.seq, uptoSeq: from.seq, events: 0, checkpoints: 0, reason });
    // Leftovers of an interrupted run go first.
    removeArchived(db, batch);
    const wanted = o.uptoSeq ?? lastSeqBefore(db, o.before!, v.headSeq);
    const upto = Math.min(wanted, v.headSeq, v.checkpoints.lastSeq);
    if (upto <= from.seq) {
      return nothing(
        wanted <= from.seq
          ? `no events after seq ${from.seq} match the bound`
          : `no signed checkpoint covers the events after seq ${from.seq} yet (the last is at seq ${v.checkpoints.lastSeq})`,
      );
    }
    let written: { end: ChainAnchor; events: number; checkpoints: number } | undefined;
    let anchor: Checkpoint | undefined;
    writeFileAtomically(o.out, (fd) => {
      const w = new ArchiveWriter(fd);
      const created = formatTimestamp(clock());
      w.header(from, created);
      // One snapshot for the rows written, while other processes append.
      db.exec("BEGIN");
      try {
        written = writeEvents(db, w, from, upto);
      } finally {
        db.exec("COMMIT");
      }
      anchor = signCheckpoint(o.key, { seq: written.end.seq, hash: written.end.hash, ts: created, kind: ANCHOR_KIND });
      w.trailer(written.events, written.end, anchor);
      w.flush();
    });
    const a = anchor!;
    const done = written!;
    try {
      db.transaction(() => {
        const current = db.prepare("SELECT seq FROM archive_anchor WHERE id = 1").get() as { seq: number } | undefined;
        if ((current?.seq ?? 0) !== from.seq) throw new AuditError("invalid_argument", "another archive run moved the anchor meanwhile");
        db.prepare(
          "INSERT INTO archive_anchor (id, seq, hash, ts, kind, key_id, signature) VALUES (1, ?, ?, ?, ?, ?, ?)" +
            " ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, ts = excluded.ts, kind = excluded.kind, key_id = excluded.key_id, signature = excluded.signature",
        ).run(a.seq, a.hash, a.ts, a.kind, a.keyId, a.signature);
      }).immediate();
    } catch (err) {
      // The database did not move: the file would only confuse whoever finds it.
      unlinkSync(o.out);
      throw storeError("cannot move the archive anchor", err);
    }
    removeArchived(db, batch);
    return { file: o.out, fromSeq: from.seq, uptoSeq: a.seq, events: done.events, checkpoints: done.checkpoints, anchor: a };
  } finally {
    db.close();
  }
}
