/** Fixtures for the checkpoint, archive and kill -9 tests: temp dirs, signed logs, tampering as an attacker would. */
import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { computeEventHash } from "../../../audit/canonical.js";
import type { AuditEvent, AuditEventInput } from "../../../audit/event.js";
import { createSigningKey, defaultSigningKeyPath, defaultTrustedKeysPath, type SigningKey } from "../../../audit/keys.js";
import { AuditLog, type CheckpointOptions } from "../../../audit/store.js";

const dirs: string[] = [];

export function tempDir(prefix = "audit-signed-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** A clock that advances stepMs per reading from a fixed start. */
export function steppingClock(stepMs = 1000, startMs = Date.UTC(2026, 10, 22, 10, 0, 0, 0)): () => Date {
  let now = startMs - stepMs;
  return () => new Date((now += stepMs));
}

export const input = (i: number): AuditEventInput => ({
  component: i % 2 === 0 ? "ca" : "proxy",
  action: i % 3 === 0 ? "ca.sign" : "proxy.authz",
  outcome: i % 4 === 0 ? "deny" : "success",
  actor: `actor-${i}`,
  subject: `spiffe://example.org/ns/default/sa/s${i}`,
  details: { i },
});

export interface SignedLog {
  dir: string;
  path: string;
  /** The trusted keys file next to the database (`<db>.keys`). */
  keysFile: string;
  key: SigningKey;
  events: AuditEvent[];
}

/**
 * A closed log of n events signed with a key created at `<db>.key` (its
 * public key in `<db>.keys`): a checkpoint every `everyEvents`, none by
 * time, and one on close unless onClose is false.
 */
export function makeSignedLog(n: number, o: Partial<CheckpointOptions> & { clock?: () => Date } = {}): SignedLog {
  const dir = tempDir();
  const path = join(dir, "audit.db");
  const key = createSigningKey(defaultSigningKeyPath(path), { trustedKeysFile: defaultTrustedKeysPath(path) });
  const log = AuditLog.open(path, { clock: o.clock ?? steppingClock(), checkpoints: { everyEvents: 5, everyMs: 0, ...o, key } });
  const events: AuditEvent[] = [];
  for (let i = 1; i <= n; i++) events.push(log.append(input(i)));
  log.close();
  return { dir, path, keysFile: defaultTrustedKeysPath(path), key, events };
}

const GUARD_TRIGGERS = ["events_no_update", "events_no_delete", "checkpoints_no_update", "checkpoints_no_delete", "archive_anchor_update", "archive_anchor_no_delete", "archive_anchor_insert"];

/** Opens the file as an attacker with write access would: the guard triggers (all, or those named) dropped first. */
export function tamper(path: string, fn: (db: Database.Database) => void, triggers: readonly string[] = GUARD_TRIGGERS): void {
  const db = new Database(path);
  for (const name of triggers) db.exec(`DROP TRIGGER IF EXISTS ${name}`);
  fn(db);
  db.close();
}

export type Row = Record<string, string | number>;

export function rowOf(db: Database.Database, seq: number): Row {
  return db.prepare("SELECT * FROM events WHERE seq = ?").get(seq) as Row;
}

/** The hash a forger would compute for a row. */
export function hashRow(r: Row): string {
  return computeEventHash({
    seq: r.seq as number,
    ts: r.ts as string,
    component: r.component as string,
    action: r.action as string,
    outcome: r.outcome as string,
    actor: r.actor as string,
    subject: r.subject as string,
    reason: r.reason as string,
    detailsJson: r.details as string,
    prev_hash: r.prev_hash as string,
  });
}

/** Rewrites row `from` with fn and recomputes every later hash, as a forger without the key would. */
export function rebuildFrom(db: Database.Database, from: number, fn: (r: Row) => Row): void {
  const last = (db.prepare("SELECT max(seq) AS s FROM events").get() as { s: number }).s;
  let prev = from > 1 ? (rowOf(db, from - 1).hash as string) : "0".repeat(64);
  for (let s = from; s <= last; s++) {
    const r = s === from ? fn({ ...rowOf(db, s) }) : { ...rowOf(db, s) };
    r.prev_hash = prev;
    r.hash = hashRow(r);
    db.prepare("UPDATE events SET ts = ?, actor = ?, details = ?, prev_hash = ?, hash = ? WHERE seq = ?").run(r.ts, r.actor, r.details, r.prev_hash, r.hash, s);
    prev = r.hash;
  }
}
