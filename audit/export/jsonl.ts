/**
 * JSON lines: one event per line, exactly as stored — the members in the
 * order of AuditEvent and `details` as the canonical JSON the hash covers —
 * so an auditor can recompute every hash from the export alone.
 */
import type { EventRow } from "../query.js";

const str = JSON.stringify;

/** One event as a JSON line, newline included. */
export function formatJsonl(row: EventRow): string {
  return (
    `{"seq":${row.seq},"ts":${str(row.ts)},"component":${str(row.component)},"action":${str(row.action)}` +
    `,"outcome":${str(row.outcome)},"actor":${str(row.actor)},"subject":${str(row.subject)}` +
    `,"reason":${str(row.reason)},"details":${row.details},"prev_hash":${str(row.prev_hash)},"hash":${str(row.hash)}}\n`
  );
}
