/**
 * Query filters over the events table, shared by the store and (later) the
 * exporters: validation, the SQL for each filter shape, and row decoding.
 */
import { AuditError } from "./errors.js";
import { isAuditOutcome, type AuditEvent, type AuditOutcome, type JsonValue } from "./event.js";

export interface AuditQuery {
  /** Events with seq >= sinceSeq. */
  sinceSeq?: number;
  /** Events with ts >= since. */
  since?: Date;
  /** Events with ts < until. */
  until?: Date;
  component?: string;
  action?: string;
  outcome?: AuditOutcome;
  /** At most this many events (the first ones in seq order). */
  limit?: number;
}

/** A row of the events table as SQLite returns it. */
export interface EventRow {
  seq: number;
  ts: string;
  component: string;
  action: string;
  outcome: string;
  actor: string;
  subject: string;
  reason: string;
  details: string;
  prev_hash: string;
  hash: string;
}

export const EVENT_COLUMNS = "seq, ts, component, action, outcome, actor, subject, reason, details, prev_hash, hash";

function isValidDate(value: unknown): value is Date {
  return value instanceof Date && Number.isFinite(value.getTime());
}

function checkCount(name: string, value: unknown, min: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
    throw new AuditError("invalid_argument", `${name} must be an integer >= ${min}`);
  }
  return value;
}

function checkString(name: string, value: unknown): string {
  if (typeof value !== "string" || value.length === 0) {
    throw new AuditError("invalid_argument", `${name} must be a non-empty string`);
  }
  return value;
}

/**
 * Turns a filter into SQL with named parameters. key names the filter shape
 * so callers can cache one prepared statement per shape.
 */
export function buildQuery(filter: AuditQuery): { key: string; sql: string; params: Record<string, unknown> } {
  if (typeof filter !== "object" || filter === null) {
    throw new AuditError("invalid_argument", "the query filter must be an object");
  }
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  let key = "";
  if (filter.sinceSeq !== undefined) {
    params.sinceSeq = checkCount("sinceSeq", filter.sinceSeq, 0);
    where.push("seq >= @sinceSeq");
    key += "q";
  }
  if (filter.since !== undefined) {
    if (!isValidDate(filter.since)) throw new AuditError("invalid_argument", "since must be a valid Date");
    // Stored ts strings share one fixed-width format, so they compare as times.
    params.since = filter.since.toISOString();
    where.push("ts >= @since");
    key += "s";
  }
  if (filter.until !== undefined) {
    if (!isValidDate(filter.until)) throw new AuditError("invalid_argument", "until must be a valid Date");
    params.until = filter.until.toISOString();
    where.push("ts < @until");
    key += "u";
  }
  if (filter.component !== undefined) {
    params.component = checkString("component", filter.component);
    where.push("component = @component");
    key += "c";
  }
  if (filter.action !== undefined) {
    params.action = checkString("action", filter.action);
    where.push("action = @action");
    key += "a";
  }
  if (filter.outcome !== undefined) {
    if (!isAuditOutcome(filter.outcome)) {
      throw new AuditError("invalid_argument", "outcome must be success, failure or deny");
    }
    params.outcome = filter.outcome;
    where.push("outcome = @outcome");
    key += "o";
  }
  let limit = "";
  if (filter.limit !== undefined) {
    params.limit = checkCount("limit", filter.limit, 0);
    limit = " LIMIT @limit";
    key += "l";
  }
  const clause = where.length === 0 ? "" : ` WHERE ${where.join(" AND ")}`;
  return { key, sql: `SELECT ${EVENT_COLUMNS} FROM events${clause} ORDER BY seq${limit}`, params };
}

/** Decodes a row written by the store (details is canonical JSON of an object). */
export function rowToEvent(row: EventRow): AuditEvent {
  return {
    seq: row.seq,
    ts: row.ts,
    component: row.component,
    action: row.action,
    outcome: row.outcome as AuditOutcome,
    actor: row.actor,
    subject: row.subject,
    reason: row.reason,
    details: JSON.parse(row.details) as Record<string, JsonValue>,
    prev_hash: row.prev_hash,
    hash: row.hash,
  };
}
