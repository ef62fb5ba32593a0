/**
 * The audit database schema and its versioned migrations.
 *
 * PRAGMA user_version holds the schema version and PRAGMA application_id
 * marks the file as a mesh audit log. Migrations run in one BEGIN IMMEDIATE
 * transaction that re-reads the version, so several processes opening a new
 * file at once apply each migration exactly once. A later version (signed
 * checkpoints, archive anchors) is one more entry in MIGRATIONS.
 */
import type Database from "better-sqlite3";
import { AuditError } from "./errors.js";

/** "MSHA" — identifies the file as a mesh audit log. */
export const AUDIT_APPLICATION_ID = 0x4d534841;

const MIGRATIONS: readonly string[] = [
  // v1: the hash-chained events table.
  `
  CREATE TABLE events (
    seq       INTEGER PRIMARY KEY,
    ts        TEXT NOT NULL,
    component TEXT NOT NULL,
    action    TEXT NOT NULL,
    outcome   TEXT NOT NULL,
    actor     TEXT NOT NULL,
    subject   TEXT NOT NULL,
    reason    TEXT NOT NULL,
    details   TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
  ) STRICT;
  -- Export filters: a time window, or a component (and action).
  CREATE INDEX events_ts ON events (ts);
  CREATE INDEX events_component_action ON events (component, action);
  -- Append-only. Verify does not rely on these: it detects edits made with them dropped.
  CREATE TRIGGER events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused'); END;
  CREATE TRIGGER events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'audit events are append-only: DELETE refused'); END;
  `,
];

export const AUDIT_SCHEMA_VERSION = MIGRATIONS.length;

/** Names of the triggers that make events append-only (verify warns when one is missing). */
export const APPEND_ONLY_TRIGGERS = ["events_no_update", "events_no_delete"] as const;

function pragmaNumber(db: Database.Database, name: string): number {
  const value: unknown = db.pragma(name, { simple: true });
  return typeof value === "number" ? value : Number(value);
}

/**
 * Checks that an opened file is an audit log this code understands, without
 * writing. Returns its schema version (0 for a new, empty file).
 */
export function checkSchema(db: Database.Database): number {
  const version = pragmaNumber(db, "user_version");
  const appId = pragmaNumber(db, "application_id");
  if (version === 0) {
    const objects = db.prepare("SELECT count(*) AS n FROM sqlite_schema").get() as { n: number };
    if (objects.n !== 0 || appId !== 0) {
      throw new AuditError("unsupported_schema", "the file is a SQLite database but not an audit log");
    }
    return 0;
  }
  if (appId !== AUDIT_APPLICATION_ID) {
    throw new AuditError("unsupported_schema", "the file is a SQLite database but not an audit log");
  }
  if (version > AUDIT_SCHEMA_VERSION) {
    throw new AuditError(
      "unsupported_schema",
      `the audit log has schema version ${version}; this build understands up to ${AUDIT_SCHEMA_VERSION}`,
    );
  }
  return version;
}

/** Brings the schema up to AUDIT_SCHEMA_VERSION. */
export function migrate(db: Database.Database): void {
  if (checkSchema(db) === AUDIT_SCHEMA_VERSION) return;
  db.transaction(() => {
    // Re-read under the write lock: another process may have migrated meanwhile.
    const from = checkSchema(db);
    for (let v = from; v < AUDIT_SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v]);
    db.pragma(`application_id = ${AUDIT_APPLICATION_ID}`);
    db.pragma(`user_version = ${AUDIT_SCHEMA_VERSION}`);
  }).immediate();
}
