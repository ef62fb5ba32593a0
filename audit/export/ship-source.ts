/**
 * The events to ship, read in seq order from a cursor that can move back.
 *
 * Like AuditPageReader it pages by keyset over the rowid (`seq > after AND
 * seq <= upto`, NOT INDEXED, at most scanWindow seqs per page), so memory is
 * flat and a pass is linear. Unlike it, it starts after a given seq (the
 * saved cursor: a restart must not re-read the whole log) and can rewind to
 * the last event the collector is known to have read, after a connection
 * was lost.
 */
import { existsSync } from "node:fs";
import Database from "better-sqlite3";
import { AuditError } from "../errors.js";
import type { EventRow } from "../query.js";
import { checkSchema } from "../schema.js";
import { filterSql, pageSql, type ExportFilter } from "./reader.js";

export interface ShipSourceOptions {
  /** Start after this seq (default 0: from the first event). */
  after?: number;
  /** Stop at the head seen at open (default); false keeps reading new events (follow). */
  snapshotEnd?: boolean;
  /** Rows per page at most. Default 1000. */
  pageSize?: number;
  /** seqs one page may examine at most. Default 20 000. */
  scanWindow?: number;
  /** How long a read waits for a lock. Default 5000 ms. */
  busyTimeoutMs?: number;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw new AuditError("invalid_argument", `${name} must be an integer >= 1`);
  return value;
}

export class ShipSource {
  private readonly db: Database.Database;
  private readonly pageStmt: Database.Statement<unknown[], EventRow>;
  private readonly headStmt: Database.Statement<[], { seq: number }>;
  private readonly hashStmt: Database.Statement<[number], { hash: string }>;
  private readonly params: Record<string, string | number>;
  private readonly pageSize: number;
  private readonly scanWindow: number;
  private readonly end: number | undefined;
  /** Every row with seq <= cursor was returned or did not match. */
  private cursor: number;
  private reachedLimit = false;
  private closed = false;

  private constructor(db: Database.Database, filter: ExportFilter, o: ShipSourceOptions) {
    this.db = db;
    this.pageSize = positive("pageSize", o.pageSize, 1000);
    this.scanWindow = positive("scanWindow", o.scanWindow, 20_000);
    const after = o.after ?? 0;
    if (!Number.isSafeInteger(after) || after < 0) throw new AuditError("invalid_argument", "after must be an integer >= 0");
    this.cursor = after;
    this.params = { ...filterSql(filter).params, limit: this.pageSize };
    this.pageStmt = db.prepare<unknown[], EventRow>(pageSql(filter));
    this.headStmt = db.prepare("SELECT seq FROM events ORDER BY seq DESC LIMIT 1");
    this.hashStmt = db.prepare(`SELECT hash FROM events WHERE seq = ?`);
    this.end = o.snapshotEnd === false ? undefined : this.head();
  }

  /** Opens the log read-only. Throws AuditError (not_found, unsupported_schema, store_error, invalid_argument). */
  static open(path: string, filter: ExportFilter = {}, o: ShipSourceOptions = {}): ShipSource {
    filterSql(filter); // a bad filter is refused before the file is touched
    if (!existsSync(path)) throw new AuditError("not_found", `no audit log at ${path}`);
    let db: Database.Database;
    try {
      db = new Database(path, { readonly: true, fileMustExist: true, timeout: positive("busyTimeoutMs", o.busyTimeoutMs, 5000) });
    } catch (err) {
      throw new AuditError("store_error", `cannot open audit log ${path}: ${(err as Error).message}`, { cause: err });
    }
    try {
      if (checkSchema(db) === 0) throw new AuditError("unsupported_schema", `${path} is not an initialized audit log`);
      return new ShipSource(db, filter, o);
    } catch (err) {
      db.close();
      if (err instanceof AuditError) throw err;
      throw new AuditError("store_error", `cannot read audit log ${path}: ${(err as Error).message}`, { cause: err });
    }
  }

  private head(): number {
    return this.headStmt.get()?.seq ?? 0;
  }

  /** The hash of event seq, or undefined when the log has no such event. */
  hashAt(seq: number): string | undefined {
    return this.hashStmt.get(seq)?.hash;
  }

  /** Without follow: everything up to the snapshot end was returned. */
  get done(): boolean {
    return this.end !== undefined && this.cursor >= this.end;
  }

  /** The last page reached the newest event there was (follow: time to wait). */
  get caughtUp(): boolean {
    return this.reachedLimit;
  }

  /** The next rows after the cursor (an empty page: nothing new matched yet). */
  nextPage(): EventRow[] {
    if (this.closed) throw new AuditError("closed", "the ship source is closed");
    const limit = this.end ?? this.head();
    if (this.cursor >= limit) {
      this.reachedLimit = true;
      return [];
    }
    const upto = Math.min(limit, this.cursor + this.scanWindow);
    let rows: EventRow[];
    try {
      rows = this.pageStmt.all({ ...this.params, after: this.cursor, upto });
    } catch (err) {
      throw new AuditError("store_error", `cannot read audit events: ${(err as Error).message}`, { cause: err });
    }
    this.cursor = rows.length === this.pageSize ? rows[rows.length - 1].seq : upto;
    this.reachedLimit = this.cursor >= limit;
    return rows;
  }

  /** Reads again from just after seq (the last event known delivered). */
  rewind(after: number): void {
    this.cursor = after;
    this.reachedLimit = false;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}
