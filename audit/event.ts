/**
 * The audit event: what callers hand in (AuditEventInput), what the log
 * stores (AuditEvent), and the one interface the rest of the mesh depends on
 * (AuditSink), so tests can give components a no-op or in-memory sink.
 */
import { canonicalJson, computeCheckedEventHash, hasLoneSurrogate } from "./canonical.js";
import { AuditError } from "./errors.js";
import { redactDetails, redactString } from "./redact.js";

export type AuditOutcome = "success" | "failure" | "deny";
export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };

export interface AuditEventInput {
  component: string;
  action: string;
  outcome: AuditOutcome;
  actor?: string;
  subject?: string;
  reason?: string;
  details?: Record<string, JsonValue>;
}

export interface AuditEvent {
  seq: number;
  /** RFC 3339 UTC with milliseconds, e.g. 2026-11-22T10:00:00.123Z */
  ts: string;
  component: string;
  action: string;
  outcome: AuditOutcome;
  actor: string;
  subject: string;
  reason: string;
  details: Record<string, JsonValue>;
  prev_hash: string;
  hash: string;
}

/** The interface every other part depends on. */
export interface AuditSink {
  append(event: AuditEventInput): void;
}

export const AUDIT_OUTCOMES: readonly AuditOutcome[] = ["success", "failure", "deny"];

/** Bounds on one event; an event over them is rejected, not truncated. */
export const AUDIT_LIMITS = {
  /** component and action: 1..64 characters of [a-z0-9_.-]. */
  nameMaxLength: 64,
  /** actor, subject, reason: UTF-8 bytes. */
  textMaxBytes: 1024,
  /** details as canonical JSON, UTF-8 bytes (after redaction). */
  detailsMaxBytes: 16 * 1024,
  /** Nested containers in details, the details object itself counting as 1. */
  detailsMaxDepth: 8,
} as const;

const NAME = /^[a-z0-9_.-]+$/;

/** An input that passed validation and redaction, ready to be chained. */
export interface PreparedEvent {
  component: string;
  action: string;
  outcome: AuditOutcome;
  actor: string;
  subject: string;
  reason: string;
  details: Record<string, JsonValue>;
  /** Canonical JSON of details: what the store writes and the hash covers. */
  detailsJson: string;
}

export function isAuditOutcome(value: unknown): value is AuditOutcome {
  return value === "success" || value === "failure" || value === "deny";
}

function checkName(field: string, value: unknown): string {
  if (typeof value !== "string" || value.length === 0) {
    throw new AuditError("invalid_event", `${field} must be a non-empty string`);
  }
  if (value.length > AUDIT_LIMITS.nameMaxLength || !NAME.test(value)) {
    throw new AuditError(
      "invalid_event",
      `${field} must be 1-${AUDIT_LIMITS.nameMaxLength} characters of [a-z0-9_.-]`,
    );
  }
  return value;
}

function checkText(field: string, value: unknown): string {
  if (value === undefined) return "";
  if (typeof value !== "string") throw new AuditError("invalid_event", `${field} must be a string`);
  // Byte length is at most 3 × UTF-16 length: skip the count for short strings.
  if (value.length * 3 > AUDIT_LIMITS.textMaxBytes && Buffer.byteLength(value, "utf8") > AUDIT_LIMITS.textMaxBytes) {
    throw new AuditError("invalid_event", `${field} is longer than ${AUDIT_LIMITS.textMaxBytes} bytes`);
  }
  // Checked here, before the write lock, so sealing can hash without scanning again.
  if (hasLoneSurrogate(value)) throw new AuditError("invalid_event", `${field} contains an unpaired UTF-16 surrogate`);
  return redactString(value);
}

const EMPTY_DETAILS_JSON = "{}";

/**
 * Validates an input (it may come from untyped code) and applies the secret
 * redaction. Throws AuditError("invalid_event") naming the broken rule.
 */
export function prepareEvent(input: AuditEventInput): PreparedEvent {
  if (typeof input !== "object" || input === null) {
    throw new AuditError("invalid_event", "an audit event must be an object");
  }
  const component = checkName("component", input.component);
  const action = checkName("action", input.action);
  if (!isAuditOutcome(input.outcome)) {
    throw new AuditError("invalid_event", `outcome must be one of ${AUDIT_OUTCOMES.join(", ")}`);
  }
  const actor = checkText("actor", input.actor);
  const subject = checkText("subject", input.subject);
  const reason = checkText("reason", input.reason);

  let details: Record<string, JsonValue> = {};
  let detailsJson = EMPTY_DETAILS_JSON;
  if (input.details !== undefined) {
    const raw: unknown = input.details;
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      throw new AuditError("invalid_event", "details must be a JSON object");
    }
    details = redactDetails(input.details, AUDIT_LIMITS.detailsMaxDepth);
    detailsJson = canonicalJson(details, AUDIT_LIMITS.detailsMaxDepth);
    if (
      detailsJson.length * 3 > AUDIT_LIMITS.detailsMaxBytes &&
      Buffer.byteLength(detailsJson, "utf8") > AUDIT_LIMITS.detailsMaxBytes
    ) {
      throw new AuditError("invalid_event", `details are larger than ${AUDIT_LIMITS.detailsMaxBytes} bytes as JSON`);
    }
  }
  return { component, action, outcome: input.outcome, actor, subject, reason, details, detailsJson };
}

/**
 * Links a prepared event into the chain after (prevHash) at position seq.
 * ts must be formatTimestamp output and prevHash 64 hex digits.
 */
export function sealEvent(prepared: PreparedEvent, seq: number, ts: string, prevHash: string): AuditEvent {
  const hash = computeCheckedEventHash({
    seq,
    ts,
    component: prepared.component,
    action: prepared.action,
    outcome: prepared.outcome,
    actor: prepared.actor,
    subject: prepared.subject,
    reason: prepared.reason,
    detailsJson: prepared.detailsJson,
    prev_hash: prevHash,
  });
  return {
    seq,
    ts,
    component: prepared.component,
    action: prepared.action,
    outcome: prepared.outcome,
    actor: prepared.actor,
    subject: prepared.subject,
    reason: prepared.reason,
    details: prepared.details,
    prev_hash: prevHash,
    hash,
  };
}

/** RFC 3339 UTC with milliseconds from a clock reading; rejects invalid dates. */
export function formatTimestamp(date: Date): string {
  const ms = date instanceof Date ? date.getTime() : Number.NaN;
  // Years 0000-9999 only: toISOString switches to ±YYYYYY outside them.
  if (!Number.isFinite(ms) || ms < -62167219200000 || ms > 253402300799999) {
    throw new AuditError("invalid_argument", "the audit clock returned an invalid date");
  }
  return date.toISOString();
}
