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
 */
import { closeSync, existsSync, constants as fsConstants, fchmodSync, openSync } from "node:fs";
import Database from "better-sqlite3";
import { GENESIS_HASH } from "./canonical.js";
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
import { buildQuery, rowToEvent, type AuditQuery, type EventRow } from "./query.js";
import { checkSchema, migrate } from "./schema.js";

export type { AuditQuery } from "./query.js";

export interface AuditLogOptions {
  /** Source of event timestamps (default: the system clock). */
  clock?: () => Date;
  /** "normal" survives a process crash, "full" also an OS crash. Default "normal". */
  durability?: "normal" | "full";
  /** How long an append waits for another process's write lock. Default 5000 ms. */
  busyTimeoutMs?: number;
  /** Open an existing log for query/head/count only. */
  readonly?: boolean;
}

export interface ChainHead {
  seq: number;
  hash: string;
}

const DEFAULT_BUSY_TIMEOUT_MS = 5000;
const MEMORY_PATH = ":memory:";

/** Creates the file owner-only before SQLite opens it; SQLite gives -wal/-shm the same mode. */
function createPrivateFile(path: string): void {
  let fd: number;
  try {
    // O_EXCL: never follow a planted symlink, never touch an existing file's mode.
    fd = openSync(path, fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return;
    throw new AuditError("store_error", `cannot create audit log ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    fchmodSync(fd, 0o600); // a umask can only have removed bits; make it exact
  } finally {
    closeSync(fd);
  }
}

function sqliteCode(err: unknown): string | undefined {
  const code: unknown = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** Maps driver failures to AuditError; AuditErrors pass through. */
function storeError(what: string, err: unknown): AuditError {
  if (err instanceof AuditError) return err;
  const code = sqliteCode(err);
  if (code !== undefined && code.startsWith("SQLITE_BUSY")) {
    return new AuditError("busy", `${what}: the audit log stayed locked by another writer`, { cause: err });
  }
  return new AuditError("store_error", `${what}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}

function checkBusyTimeout(value: number | undefined): number {
  if (value === undefined) return DEFAULT_BUSY_TIMEOUT_MS;
  if (!Number.isSafeInteger(value) || value < 0 || value > 0x7fffffff) {
    throw new AuditError("invalid_argument", "busyTimeoutMs must be a non-negative integer");
  }
  return value;
}

export class AuditLog implements AuditSink {
  readonly path: string;
  readonly readonly: boolean;
  private readonly db: Database.Database;
  private readonly clock: () => Date;
  private readonly headStmt: Database.Statement<[], { seq: number; hash: string }>;
  private readonly countStmt: Database.Statement<[], { n: number }>;
  private readonly appendTx: ((inputs: readonly AuditEventInput[]) => AuditEvent[]) | undefined;
  private readonly queryStmts = new Map<string, Database.Statement<unknown[], EventRow>>();
  private closed = false;

  private constructor(path: string, db: Database.Database, readonly: boolean, clock: () => Date) {
    this.path = path;
    this.db = db;
    this.readonly = readonly;
    this.clock = clock;
    this.headStmt = db.prepare("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1");
    this.countStmt = db.prepare("SELECT count(*) AS n FROM events");
    if (readonly) return;
    const insert = db.prepare<unknown[]>(
      "INSERT INTO events (seq, ts, component, action, outcome, actor, subject, reason, details, prev_hash, hash)" +
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    );
    const tx = db.transaction((prepared: readonly PreparedEvent[]): AuditEvent[] => {
      // The clock is read under the write lock, so ts order follows seq order.
      const head = this.headStmt.get();
      let seq = head?.seq ?? 0;
      let prevHash = head?.hash ?? GENESIS_HASH;
      const ts = formatTimestamp(this.clock());
      const out: AuditEvent[] = [];
      for (const p of prepared) {
        seq += 1;
        const ev = sealEvent(p, seq, ts, prevHash);
        insert.run(seq, ts, p.component, p.action, p.outcome, p.actor, p.subject, p.reason, p.detailsJson, prevHash, ev.hash);
        prevHash = ev.hash;
        out.push(ev);
      }
      return out;
    });
    // Validation and redaction run before taking the lock other processes wait on.
    this.appendTx = (inputs) => tx.immediate(inputs.map((input) => prepareEvent(input)));
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
      if (readonly) {
        if (checkSchema(db) === 0) throw new AuditError("unsupported_schema", `${path} is not an initialized audit log`);
      } else {
        if (!memory) {
          const mode: unknown = db.pragma("journal_mode = WAL", { simple: true });
          if (mode !== "wal") throw new AuditError("store_error", `cannot put ${path} in WAL mode (got ${String(mode)})`);
          // Checkpoint (and fsync) every ~16 MiB of WAL rather than every 4 MiB: fewer stalls per append.
          db.pragma("wal_autocheckpoint = 4000");
          db.pragma("journal_size_limit = 67108864");
        }
        db.pragma(`synchronous = ${durability === "full" ? "FULL" : "NORMAL"}`);
        migrate(db);
      }
      return new AuditLog(path, db, readonly, clock);
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
    return this.appendMany([input])[0];
  }

  /** Appends several events in one transaction (all or none); same rules as append. */
  appendMany(inputs: readonly AuditEventInput[]): AuditEvent[] {
    this.ensureOpen();
    if (this.appendTx === undefined) throw new AuditError("read_only", "the audit log was opened read-only");
    if (!Array.isArray(inputs)) throw new AuditError("invalid_argument", "appendMany takes an array of events");
    if (inputs.length === 0) return [];
    try {
      return this.appendTx(inputs);
    } catch (err) {
      throw storeError("audit append failed", err);
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

  /** The last event's seq and hash, or undefined for an empty log. */
  head(): ChainHead | undefined {
    this.ensureOpen();
    try {
      const row = this.headStmt.get();
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

  /** Idempotent. Appends already returned are durable whether or not close() runs. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}

function* mapRows(rows: IterableIterator<EventRow>): IterableIterator<AuditEvent> {
  for (const row of rows) yield rowToEvent(row);
}
