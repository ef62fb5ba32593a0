/** Small helpers shared by the store, verify and archive: private files, driver errors, the chain head. */
import { closeSync, constants as fsConstants, fchmodSync, openSync } from "node:fs";
import type Database from "better-sqlite3";
import { AuditError } from "./errors.js";
import { CHECKPOINTS_SCHEMA_VERSION } from "./schema.js";

/** Creates the file owner-only before SQLite opens it; SQLite gives -wal/-shm the same mode. */
export function createPrivateFile(path: string): void {
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

export function sqliteCode(err: unknown): string | undefined {
  const code: unknown = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** Maps driver failures to AuditError; AuditErrors pass through. */
export function storeError(what: string, err: unknown): AuditError {
  if (err instanceof AuditError) return err;
  const code = sqliteCode(err);
  if (code !== undefined && code.startsWith("SQLITE_BUSY")) {
    return new AuditError("busy", `${what}: the audit log stayed locked by another writer`, { cause: err });
  }
  return new AuditError("store_error", `${what}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}

export interface ChainHead {
  seq: number;
  hash: string;
}

/**
 * Reads the chain head: the last event, or the archive anchor when every
 * event was archived (so appends continue the archived chain), or undefined
 * for a log that never had an event.
 */
export class HeadReader {
  private readonly last: Database.Statement<[], ChainHead>;
  private readonly anchor: Database.Statement<[], ChainHead> | undefined;

  constructor(db: Database.Database, schemaVersion: number) {
    this.last = db.prepare("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1");
    this.anchor = schemaVersion >= CHECKPOINTS_SCHEMA_VERSION ? db.prepare("SELECT seq, hash FROM archive_anchor WHERE id = 1") : undefined;
  }

  get(): ChainHead | undefined {
    return this.last.get() ?? this.anchor?.get();
  }
}
