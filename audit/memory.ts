/**
 * Sinks for tests of the other parts: a no-op one, and an in-memory one that
 * applies the same validation, redaction and chaining as the SQLite store,
 * so a test sees exactly the event that would have been written.
 */
import { GENESIS_HASH } from "./canonical.js";
import { formatTimestamp, prepareEvent, sealEvent, type AuditEvent, type AuditEventInput, type AuditSink } from "./event.js";

/** Discards events (still validates them, so bad calls fail in tests too). */
export class NullAuditSink implements AuditSink {
  append(input: AuditEventInput): void {
    prepareEvent(input);
  }
}

export class MemoryAuditSink implements AuditSink {
  readonly events: AuditEvent[] = [];
  private readonly clock: () => Date;

  constructor(opts: { clock?: () => Date } = {}) {
    this.clock = opts.clock ?? (() => new Date());
  }

  append(input: AuditEventInput): AuditEvent {
    const prepared = prepareEvent(input);
    const last = this.events.at(-1);
    const ev = sealEvent(prepared, (last?.seq ?? 0) + 1, formatTimestamp(this.clock()), last?.hash ?? GENESIS_HASH);
    this.events.push(ev);
    return ev;
  }

  /** Events matching every given field, for assertions. */
  find(match: Partial<Pick<AuditEvent, "component" | "action" | "outcome" | "actor" | "subject">>): AuditEvent[] {
    return this.events.filter((ev) =>
      Object.entries(match).every(([k, v]) => v === undefined || ev[k as keyof typeof match] === v),
    );
  }
}
