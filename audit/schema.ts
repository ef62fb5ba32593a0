/**
 * The audit database schema and its versioned migrations.
 *
 * PRAGMA user_version holds the schema version and PRAGMA application_id
 * marks the file as a mesh audit log. Migrations run in one BEGIN IMMEDIATE
 * transaction that re-reads the version, so several processes opening a new
 * file at once apply each migration exactly once.
 *
 * v1: the events table. v2: signed checkpoints, the archive anchor, and a
 * DELETE trigger that lets archiving remove events up to the anchor only;
 * the (component, action) index is dropped (exports scan in seq order
 * anyway, see export/reader.ts, and every index costs each append a page).
 */
import type Database from "better-sqlite3";
import { AuditError } from "./errors.js";

/** "MSHA" — identifies the file as a mesh audit log. */
export const AUDIT_APPLICATION_ID = 0x4d534841;

/** The guard triggers of the current schema, exactly as created (verify warns when one is missing or differs). */
export const TRIGGERS = {
  events_no_update: `CREATE TRIGGER events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused'); END`,
  // Only archiving removes events: those at or below the anchor, after it moved forward.
  events_no_delete: `CREATE TRIGGER events_no_delete BEFORE DELETE ON events
    WHEN OLD.seq > coalesce((SELECT seq FROM archive_anchor WHERE id = 1), 0)
    BEGIN SELECT RAISE(ABORT, 'audit events are append-only: DELETE refused (only archived events can be removed)'); END`,
  checkpoints_no_update: `CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints
    BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only: UPDATE refused'); END`,
  checkpoints_no_delete: `CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints
    WHEN OLD.seq >= coalesce((SELECT seq FROM archive_anchor WHERE id = 1), 0)
    BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only: DELETE refused (only archived ones can be removed)'); END`,
  // The anchor names an event that exists, with its hash, and only ever moves forward.
  archive_anchor_insert: `CREATE TRIGGER archive_anchor_insert BEFORE INSERT ON archive_anchor
    WHEN NOT EXISTS (SELECT 1 FROM events WHERE seq = NEW.seq AND hash = NEW.hash)
    BEGIN SELECT RAISE(ABORT, 'the archive anchor must name a stored event and its hash'); END`,
  archive_anchor_update: `CREATE TRIGGER archive_anchor_update BEFORE UPDATE ON archive_anchor
    WHEN NEW.seq <= OLD.seq OR NOT EXISTS (SELECT 1 FROM events WHERE seq = NEW.seq AND hash = NEW.hash)
    BEGIN SELECT RAISE(ABORT, 'the archive anchor only moves forward, to a stored event and its hash'); END`,
  archive_anchor_no_delete: `CREATE TRIGGER archive_anchor_no_delete BEFORE DELETE ON archive_anchor
    BEGIN SELECT RAISE(ABORT, 'the archive anchor cannot be removed'); END`,
} as const;

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
  // v2: checkpoints and the archive anchor (see checkpoint.ts).
  `
  CREATE TABLE checkpoints (
    seq       INTEGER NOT NULL,
    hash      TEXT NOT NULL,
    ts        TEXT NOT NULL,
    kind      TEXT NOT NULL,
    key_id    TEXT NOT NULL,
    signature TEXT NOT NULL,
    PRIMARY KEY (seq, key_id)
  ) STRICT, WITHOUT ROWID;
  CREATE TABLE archive_anchor (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    seq       INTEGER NOT NULL,
    hash      TEXT NOT NULL,
    ts        TEXT NOT NULL,
    kind      TEXT NOT NULL,
    key_id    TEXT NOT NULL,
    signature TEXT NOT NULL
  ) STRICT;
  DROP INDEX events_component_action;
  DROP TRIGGER events_no_delete;
  ${TRIGGERS.events_no_delete};
  ${TRIGGERS.checkpoints_no_update};
  ${TRIGGERS.checkpoints_no_delete};
  ${TRIGGERS.archive_anchor_insert};
  ${TRIGGERS.archive_anchor_update};
  ${TRIGGERS.archive_anchor_no_delete};
  `,
];

export const AUDIT_SCHEMA_VERSION = MIGRATIONS.length;

/** Names of the triggers that make events append-only (verify warns when one is missing). */
export const APPEND_ONLY_TRIGGERS = ["events_no_update", "events_no_delete"] as const;

/** The schema version from which the checkpoints and archive_anchor tables exist. */
export const CHECKPOINTS_SCHEMA_VERSION = 2;

function pragmaNumber(db: Database.Database, name: string): number {
  const value: unknown = db.pragma(name, { simple: true });
  return typeof value === "number" ? value : Number(value);
}

/**
 * Checks that an opened file is an audit log this code understands, without
 * writing. Returns its schema version (0 for a new, empty file). Reads in
 * one transaction: read one at a time, the version could come from before
 * another process's migration and the table count from after it.
 */
export function checkSchema(db: Database.Database): number {
  return db.inTransaction ? readSchema(db) : db.transaction(() => readSchema(db)).deferred();
}

function readSchema(db: Database.Database): number {
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

/** Brings the schema up to AUDIT_SCHEMA_VERSION; returns it. */
export function migrate(db: Database.Database): number {
  if (checkSchema(db) === AUDIT_SCHEMA_VERSION) return AUDIT_SCHEMA_VERSION;
  db.transaction(() => {
    // Re-read under the write lock: another process may have migrated meanwhile.
    const from = checkSchema(db);
    for (let v = from; v < AUDIT_SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v]);
    db.pragma(`application_id = ${AUDIT_APPLICATION_ID}`);
    db.pragma(`user_version = ${AUDIT_SCHEMA_VERSION}`);
  }).immediate();
  return AUDIT_SCHEMA_VERSION;
}
