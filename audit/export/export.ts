/**
 * Export driver: pages from AuditPageReader through one formatter into a
 * writable stream, honouring back-pressure, so memory stays flat however many
 * events there are. With follow it keeps polling for new events after the
 * backlog until the signal aborts.
 */
import type { Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { AuditError } from "../errors.js";
import type { EventRow } from "../query.js";
import { formatCef } from "./cef.js";
import { CSV_HEADER, formatCsv } from "./csv.js";
import { formatJsonl } from "./jsonl.js";
import { AuditPageReader, type ExportFilter } from "./reader.js";
import { syslogFormatter } from "./syslog.js";

export type ExportFormat = "jsonl" | "csv" | "cef" | "syslog";

export const EXPORT_FORMATS: readonly ExportFormat[] = ["jsonl", "csv", "cef", "syslog"];

export function isExportFormat(value: unknown): value is ExportFormat {
  return typeof value === "string" && (EXPORT_FORMATS as readonly string[]).includes(value);
}

export interface ExportOptions {
  /** Path of the audit database (opened read-only). */
  db: string;
  format: ExportFormat;
  filter?: ExportFilter;
  out: Writable;
  /** Keep delivering new events after the backlog until signal aborts. */
  follow?: boolean;
  /** Follow: wait between polls that found nothing new. Default 250 ms. */
  pollMs?: number;
  /** Stops a follow (or a long export) after the page in hand. */
  signal?: AbortSignal;
  /** Rows per page (default 1000). */
  pageSize?: number;
  /** CEF Device Version. Default "0.0.0". */
  productVersion?: string;
  /** Syslog facility 0..23 (default local4 = 20). */
  facility?: number;
  /** Syslog HOSTNAME (default os.hostname()). */
  hostname?: string;
}

export interface ExportResult {
  /** Events written. */
  events: number;
  /** seq of the last event written (0 when none). */
  lastSeq: number;
}

interface Formatter {
  header: string;
  line: (row: EventRow) => string;
}

function formatterFor(o: ExportOptions): Formatter {
  switch (o.format) {
    case "jsonl":
      return { header: "", line: formatJsonl };
    case "csv":
      return { header: CSV_HEADER, line: formatCsv };
    case "cef": {
      const cef = { version: o.productVersion ?? "0.0.0" };
      return { header: "", line: (row) => formatCef(row, cef) };
    }
    case "syslog":
      return { header: "", line: syslogFormatter({ facility: o.facility, hostname: o.hostname }) };
    default:
      throw new AuditError("invalid_argument", `unknown export format ${String(o.format)} (use ${EXPORT_FORMATS.join(", ")})`);
  }
}

/** Resolves on 'drain', 'close' or an abort; rejects on 'error'. */
function drained(out: Writable, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error): void => {
      out.off("drain", onDrain);
      out.off("close", onDrain);
      out.off("error", done);
      signal?.removeEventListener("abort", onDrain);
      if (err !== undefined) reject(err);
      else resolve();
    };
    const onDrain = (): void => done();
    out.on("drain", onDrain);
    out.on("close", onDrain);
    out.on("error", done);
    signal?.addEventListener("abort", onDrain);
  });
}

/** Writes chunk, waiting while the stream's buffer is full. Rejects with a stream error seen so far. */
async function write(out: Writable, chunk: string, failed: () => Error | undefined, signal: AbortSignal | undefined): Promise<void> {
  let err = failed();
  if (err === undefined && out.destroyed) err = new AuditError("store_error", "the export output was closed");
  if (err !== undefined) throw err;
  if (!out.write(chunk)) await drained(out, signal);
}

/**
 * Streams the matching events of the log at o.db to o.out in o.format.
 * Rejects with the stream's error (e.g. EPIPE) or an AuditError; the caller
 * owns o.out (this never ends it).
 */
export async function exportAuditLog(o: ExportOptions): Promise<ExportResult> {
  const fmt = formatterFor(o);
  const pollMs = o.pollMs ?? 250;
  if (!Number.isFinite(pollMs) || pollMs < 1) throw new AuditError("invalid_argument", "pollMs must be >= 1");
  const follow = o.follow === true;
  const reader = AuditPageReader.open(o.db, o.filter ?? {}, { pageSize: o.pageSize, snapshotEnd: !follow });
  let streamError: Error | undefined;
  const onError = (err: Error): void => {
    streamError ??= err;
  };
  o.out.on("error", onError);
  // errored is set as soon as a write fails; the 'error' event only follows on a later tick.
  const failed = (): Error | undefined => streamError ?? o.out.errored ?? undefined;
  const result: ExportResult = { events: 0, lastSeq: 0 };
  try {
    if (fmt.header !== "") await write(o.out, fmt.header, failed, o.signal);
    while (o.signal?.aborted !== true) {
      const rows = reader.nextPage();
      if (rows.length > 0) {
        let chunk = "";
        for (const row of rows) chunk += fmt.line(row);
        await write(o.out, chunk, failed, o.signal);
        result.events += rows.length;
        result.lastSeq = rows[rows.length - 1].seq;
      }
      if (reader.done) break;
      if (rows.length > 0 || !reader.caughtUp) {
        // Let stream errors and signals arrive between pages.
        await new Promise<void>((resolve) => setImmediate(resolve));
      } else {
        // Caught up: wait for new events (an abort ends the wait early).
        await sleep(pollMs, undefined, { signal: o.signal }).catch(() => undefined);
      }
      const err = failed();
      if (err !== undefined) throw err;
    }
    return result;
  } finally {
    o.out.off("error", onError);
    reader.close();
  }
}
