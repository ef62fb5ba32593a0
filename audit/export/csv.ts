/**
 * CSV per RFC 4180: a header row, CRLF line ends, a field quoted when it
 * holds a comma, a double quote, CR or LF (inner quotes doubled). details is
 * its canonical JSON text. Values are written exactly as stored: nothing is
 * prefixed to defuse spreadsheet formulas, so open untrusted exports in a
 * spreadsheet with formula evaluation off.
 */
import type { EventRow } from "../query.js";

export const CSV_COLUMNS = ["seq", "ts", "component", "action", "outcome", "actor", "subject", "reason", "details", "prev_hash", "hash"] as const;

export const CSV_HEADER = CSV_COLUMNS.join(",") + "\r\n";

const NEEDS_QUOTES = /[",\r\n]/;

/** One field, quoted only when RFC 4180 requires it. */
export function csvField(value: string): string {
  return NEEDS_QUOTES.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** One event as a CSV record, CRLF included. */
export function formatCsv(row: EventRow): string {
  return (
    `${row.seq},${csvField(row.ts)},${csvField(row.component)},${csvField(row.action)},${csvField(row.outcome)}` +
    `,${csvField(row.actor)},${csvField(row.subject)},${csvField(row.reason)},${csvField(row.details)}` +
    `,${csvField(row.prev_hash)},${csvField(row.hash)}\r\n`
  );
}
