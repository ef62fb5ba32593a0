/**
 * The append-only, hash-chained audit store (SQLite via better-sqlite3).
 *
 * Every append is one BEGIN IMMEDIATE transaction that reads the chain head,
 * inserts the next event and commits, so any number of processes can append
 * to one file: SQLite's write lock (waited for up to busyTimeoutMs)
 * serializes them and seqs stay contiguous. The database runs in WAL mode:
 * with durability "normal" (synchronous=NORMAL) a committed append is in the
 * OS page cache before append() returns, so it survives kill -9 of the
 * process (only an OS crash or power loss can drop the last commits); with
 * "full" (synchronous=FULL) the WAL is fsynced at every commit.
 *
 * With a signing key (the checkpoints option) the writer also signs the
 * chain head every N events or T ms, inside the append's transaction (see
 * checkpointer.ts), and on close. When every event was archived, the head
 * is the archive anchor, so appends continue the archived chain.
 */
import { existsSync } from "node:fs";
import Database from "better-sqlite3";
import { GENESIS_HASH } from "./canonical.js";
import type { Checkpoint } from "./checkpoint.js";
import { Checkpointer, type CheckpointPolicy } from "./checkpointer.js";
import { AuditError } from "./errors.js";
import {
  formatTimestamp,
  prepareEvent,
  sealEvent,
  type AuditEvent,
  type AuditEventInput,
  type AuditSink,
  type PreparedEvent,
} from "./event.js";
import { defaultTrustedKeysPath, openSigningKey, type SigningKey } from "./keys.js";
import { buildQuery, rowToEvent, type AuditQuery, type EventRow } from "./query.js";
import { retryWhileBusy } from "./busy-retry.js";
import { checkSchema, migrate } from "./schema.js";
import { HeadReader, createPrivateFile, sqliteCode, storeError, type ChainHead } from "./sqlite-util.js";

export type { AuditQuery } from "./query.js";
export type { ChainHead } from "./sqlite-util.js";

/** Signed checkpoints (see checkpoint.ts, checkpointer.ts). */
export interface CheckpointOptions extends CheckpointPolicy {
  /** The signing key; or give keyFile. */
  key?: SigningKey;
  /** A private key file (PKCS#8 PEM, Ed25519 or P-256, mode 0600). */
  keyFile?: string;
  /** Create keyFile (Ed25519) when it does not exist, adding its public key to trustedKeysFile. */
  createKey?: boolean;
  /** Where a created key's public half goes. Default `<db>.keys`. */
  trustedKeysFile?: string;
  /** Sign the head on close() when no checkpoint covers it. Default true. */
  onClose?: boolean;
  /** Also try a time checkpoint every everyMs without appends (an unref'd timer). Default true. */
  timer?: boolean;
}

export interface AuditLogOptions {
  /** Source of event timestamps and checkpoint timing (default: the system clock). */
  clock?: () => Date;
  /** "normal" survives a process crash, "full" also an OS crash. Default "normal". */
  durability?: "normal" | "full";
  /** How long an append waits for another process's write lock. Default 5000 ms. */
  busyTimeoutMs?: number;
  /** Open an existing log for query/head/count only. */
  readonly?: boolean;
  /** Sign checkpoints with this writer's key. Without it the log is hash-chained only. */
  checkpoints?: CheckpointOptions;
}

const DEFAULT_BUSY_TIMEOUT_MS = 5000;
const MEMORY_PATH = ":memory:";

function checkBusyTimeout(value: number | undefined): number {
  if (value === undefined) return DEFAULT_BUSY_TIMEOUT_MS;
  if (!Number.isSafeInteger(value) || value < 0 || value > 0x7fffffff) {
    throw new AuditError("invalid_argument", "busyTimeoutMs must be a non-negative integer");
  }
  return value;
}

function signingKeyFor(path: string, o: CheckpointOptions): SigningKey {
  if (o.key !== undefined) return o.key;
  if (typeof o.keyFile !== "string" || o.keyFile === "") {
    throw new AuditError("invalid_argument", "checkpoints need a key or a keyFile");
  }
  const trusted = o.trustedKeysFile ?? (path === MEMORY_PATH ? undefined : defaultTrustedKeysPath(path));
  return openSigningKey(o.keyFile, { create: o.createKey === true, trustedKeysFile: trusted });
}

export class AuditLog implements AuditSink {
  readonly path: string;
  readonly readonly: boolean;
  private readonly db: Database.Database;
  private readonly clock: () => Date;
  private readonly heads: HeadReader;
  private readonly countStmt: Database.Statement<[], { n: number }>;
  private readonly insertStmt: Database.Statement<unknown[]> | undefined;
  private readonly appendOneTx: ((p: PreparedEvent) => AuditEvent) | undefined;
  private readonly appendManyTx: ((p: readonly PreparedEvent[]) => AuditEvent[]) | undefined;
  private readonly checkpointer: Checkpointer | undefined;
  private readonly checkpointOnClose: boolean;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly queryStmts = new Map<string, Database.Statement<unknown[], EventRow>>();
  private readonly dataVersion: Database.Statement<[], number> | undefined;
  /** The head our last successful append committed, and the data_version it was read under. */
  private lastCommit: { version: number; head: ChainHead } | undefined;
  private txVersion = 0;
  private closed = false;

  private constructor(path: string, db: Database.Database, readonly: boolean, clock: () => Date, version: number, cp: CheckpointOptions | undefined) {
    this.path = path;
    this.db = db;
    this.readonly = readonly;
    this.clock = clock;
    this.heads = new HeadReader(db, version);
    this.countStmt = db.prepare("SELECT count(*) AS n FROM events");
    this.checkpointOnClose = cp?.onClose !== false;
    if (readonly) return;
    this.insertStmt = db.prepare<unknown[]>(
      "INSERT INTO events (seq, ts, component, action, outcome, actor, subject, reason, details, prev_hash, hash)" +
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    );
    if (cp !== undefined) {
      this.checkpointer = new Checkpointer(db, this.heads, signingKeyFor(path, cp), cp, clock().getTime());
      if (cp.timer !== false && this.checkpointer.everyMs > 0) {
        this.timer = setInterval(() => this.checkpointIfDue(), this.checkpointer.everyMs);
        this.timer.unref();
      }
    }
    this.dataVersion = db.prepare<[], number>("PRAGMA data_version").pluck();
    // The clock is read under the write lock, so ts order follows seq order.
    const one = db.transaction((p: PreparedEvent): AuditEvent => {
      const head = this.headInTx();
      const now = this.clock();
      const ev = this.insertOne(p, (head?.seq ?? 0) + 1, formatTimestamp(now), head?.hash ?? GENESIS_HASH);
      this.checkpointer?.afterAppend(ev.seq - 1, ev, now.getTime(), ev.ts);
      return ev;
    });
    const many = db.transaction((prepared: readonly PreparedEvent[]): AuditEvent[] => {
      const head = this.headInTx();
      const now = this.clock();
      const ts = formatTimestamp(now);
      const from = head?.seq ?? 0;
      let prevHash = head?.hash ?? GENESIS_HASH;
      const out: AuditEvent[] = [];
      for (const p of prepared) {
        const ev = this.insertOne(p, from + out.length + 1, ts, prevHash);
        prevHash = ev.hash;
        out.push(ev);
      }
      this.checkpointer?.afterAppend(from, out[out.length - 1], now.getTime(), ts);
      return out;
    });
    // Validation and redaction run before taking the lock other processes wait on.
    this.appendOneTx = (p) => this.remember(() => one.immediate(p), (ev) => ev);
    this.appendManyTx = (p) => this.remember(() => many.immediate(p), (evs) => evs[evs.length - 1]);
  }

  /**
   * The head as of the open write transaction. Re-reading it costs a B-tree
   * descent per append; when no other connection committed since our last
   * append (PRAGMA data_version, which only other connections' commits
   * change), the head we committed is still the head.
   */
  private headInTx(): ChainHead | undefined {
    const version = this.dataVersion!.get()!;
    this.txVersion = version;
    const last = this.lastCommit;
    return last !== undefined && last.version === version ? last.head : this.heads.get();
  }

  /** Runs an append transaction; remembers its head only once it committed (a failed one forgets it). */
  private remember<T>(run: () => T, headOf: (result: T) => ChainHead): T {
    try {
      const result = run();
      const head = headOf(result);
      this.lastCommit = { version: this.txVersion, head: { seq: head.seq, hash: head.hash } };
      return result;
    } catch (err) {
      this.lastCommit = undefined;
      throw err;
    }
  }

  private insertOne(p: PreparedEvent, seq: number, ts: string, prevHash: string): AuditEvent {
    const ev = sealEvent(p, seq, ts, prevHash);
    this.insertStmt!.run(seq, ts, p.component, p.action, p.outcome, p.actor, p.subject, p.reason, p.detailsJson, prevHash, ev.hash);
    return ev;
  }

  /**
   * Opens (creating if needed, mode 0600) the audit log at path, in WAL mode,
   * migrating the schema to the current version. ":memory:" gives a
   * throw-away log for tests. Throws AuditError.
   */
  static open(path: string, opts: AuditLogOptions = {}): AuditLog {
    if (typeof path !== "string" || path.length === 0) {
      throw new AuditError("invalid_argument", "the audit log path must be a non-empty string");
    }
    const timeout = checkBusyTimeout(opts.busyTimeoutMs);
    const durability = opts.durability ?? "normal";
    if (durability !== "normal" && durability !== "full") {
      throw new AuditError("invalid_argument", 'durability must be "normal" or "full"');
    }
    const readonly = opts.readonly === true;
    const clock = opts.clock ?? (() => new Date());
    const memory = path === MEMORY_PATH;
    if (readonly && memory) throw new AuditError("invalid_argument", "a :memory: log cannot be read-only");
    if (readonly && opts.checkpoints !== undefined) throw new AuditError("invalid_argument", "a read-only log cannot sign checkpoints");
    if (!readonly && !memory) createPrivateFile(path);

    let db: Database.Database;
    try {
      db = new Database(path, { readonly, fileMustExist: readonly, timeout });
    } catch (err) {
      if (sqliteCode(err) === "SQLITE_CANTOPEN" && !existsSync(path)) {
        throw new AuditError("not_found", `cannot open audit log ${path}`, { cause: err });
      }
      throw storeError(`cannot open audit log ${path}`, err);
    }
    try {
      let version: number;
      if (readonly) {
        version = checkSchema(db);
        if (version === 0) throw new AuditError("unsupported_schema", `${path} is not an initialized audit log`);
      } else {
        if (!memory) {
          // refused at once, not waited for, while other processes open the new file too (busy-retry.ts)
          const mode: unknown = retryWhileBusy(() => db.pragma("journal_mode = WAL", { simple: true }), timeout);
          if (mode !== "wal") throw new AuditError("store_error", `cannot put ${path} in WAL mode (got ${String(mode)})`);
          // Checkpoint (and fsync) every ~16 MiB of WAL rather than every 4 MiB: fewer stalls per append.
          db.pragma("wal_autocheckpoint = 4000");
          db.pragma("journal_size_limit = 67108864");
        }
        db.pragma(`synchronous = ${durability === "full" ? "FULL" : "NORMAL"}`);
        version = retryWhileBusy(() => migrate(db), timeout);
      }
      return new AuditLog(path, db, readonly, clock, version, opts.checkpoints);
    } catch (err) {
      db.close();
      throw storeError(`cannot open audit log ${path}`, err);
    }
  }

  private ensureOpen(): void {
    if (this.closed) throw new AuditError("closed", "the audit log is closed");
  }

  /** Validates, redacts, chains and durably stores one event; returns it as stored. */
  append(input: AuditEventInput): AuditEvent {
    this.ensureOpen();
    if (this.appendOneTx === undefined) throw new AuditError("read_only", "the audit log was opened read-only");
    const prepared = prepareEvent(input);
    try {
      return this.appendOneTx(prepared);
    } catch (err) {
      throw storeError("audit append failed", err);
    }
  }

  /** Appends several events in one transaction (all or none); same rules as append. */
  appendMany(inputs: readonly AuditEventInput[]): AuditEvent[] {
    this.ensureOpen();
    if (this.appendManyTx === undefined) throw new AuditError("read_only", "the audit log was opened read-only");
    if (!Array.isArray(inputs)) throw new AuditError("invalid_argument", "appendMany takes an array of events");
    if (inputs.length === 0) return [];
    const prepared = inputs.map((input) => prepareEvent(input));
    try {
      return this.appendManyTx(prepared);
    } catch (err) {
      throw storeError("audit append failed", err);
    }
  }

  /** The key id this writer signs checkpoints with, if it does. */
  get checkpointKeyId(): string | undefined {
    return this.checkpointer?.keyId;
  }

  /**
   * Signs the current head now (kind "manual"), even if a checkpoint covers
   * it already. Returns undefined for a log without events. Needs checkpoints.
   */
  checkpoint(): Checkpoint | undefined {
    this.ensureOpen();
    if (this.checkpointer === undefined) throw new AuditError("invalid_argument", "this audit log was opened without a checkpoint key");
    const now = this.clock();
    try {
      return this.checkpointer.checkpointHead("manual", now, formatTimestamp(now), true);
    } catch (err) {
      throw storeError("audit checkpoint failed", err);
    }
  }

  /**
   * A time checkpoint if everyMs passed since this writer's last one and no
   * checkpoint covers the head (what the timer runs; tests call it with a
   * stepped clock). Never throws: a busy log is simply tried again later.
   */
  checkpointIfDue(): Checkpoint | undefined {
    if (this.closed || this.checkpointer === undefined) return undefined;
    try {
      const now = this.clock();
      if (!this.checkpointer.due(now.getTime())) return undefined;
      return this.checkpointer.checkpointHead("time", now, formatTimestamp(now), false);
    } catch {
      return undefined;
    }
  }

  /**
   * Streams the events matching every given filter, in seq order. Bounds:
   * seq >= sinceSeq, since <= ts < until. While the iterator is open this
   * connection cannot append: finish or break out of the loop first.
   */
  query(filter: AuditQuery = {}): IterableIterator<AuditEvent> {
    this.ensureOpen();
    const { key, sql, params } = buildQuery(filter);
    let stmt = this.queryStmts.get(key);
    if (stmt === undefined) {
      stmt = this.db.prepare<unknown[], EventRow>(sql);
      this.queryStmts.set(key, stmt);
    }
    return mapRows(stmt.iterate(params));
  }

  /** The last event's seq and hash (the archive anchor when all were archived), or undefined for an empty log. */
  head(): ChainHead | undefined {
    this.ensureOpen();
    try {
      const row = this.heads.get();
      return row === undefined ? undefined : { seq: row.seq, hash: row.hash };
    } catch (err) {
      throw storeError("cannot read the audit head", err);
    }
  }

  count(): number {
    this.ensureOpen();
    try {
      return this.countStmt.get()?.n ?? 0;
    } catch (err) {
      throw storeError("cannot count audit events", err);
    }
  }

  /**
   * Idempotent. Appends already returned are durable whether or not close()
   * runs. With checkpoints, first signs the head if nothing covers it yet
   * (best effort: a log left locked by another writer is closed anyway).
   */
  close(): void {
    if (this.closed) return;
    if (this.timer !== undefined) clearInterval(this.timer);
    if (this.checkpointer !== undefined && this.checkpointOnClose) {
      try {
        const now = this.clock();
        this.checkpointer.checkpointHead("close", now, formatTimestamp(now), false);
      } catch {
        // the events stay chained; only the tail since the last checkpoint is unsigned
      }
    }
    this.closed = true;
    this.db.close();
  }
}

function* mapRows(rows: IterableIterator<EventRow>): IterableIterator<AuditEvent> {
  for (const row of rows) yield rowToEvent(row);
}
