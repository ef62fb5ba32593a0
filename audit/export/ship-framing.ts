/**
 * Frames for a stream to a collector: octet counting per RFC 6587 §3.4.1,
 * the framing RFC 5425 prescribes for syslog over TLS (§4.3):
 *
 *   SYSLOG-FRAME = MSG-LEN SP SYSLOG-MSG
 *   MSG-LEN      = NONZERO-DIGIT *DIGIT   ; octets of SYSLOG-MSG
 *
 * The payload is one record of the chosen export format without its line
 * end (an RFC 5424 message for --format syslog, which is what syslog
 * collectors expect; JSON lines, CEF and CSV records work with collectors
 * that take octet-counted frames of any text). CSV frames carry no header
 * row: every frame is one record in the documented column order.
 */
import { AuditError } from "../errors.js";
import type { EventRow } from "../query.js";
import { formatCef } from "./cef.js";
import { formatCsv } from "./csv.js";
import type { ExportFormat } from "./export.js";
import { formatJsonl } from "./jsonl.js";
import { syslogFormatter } from "./syslog.js";

/** MSG-LEN SP MSG. The message must not be empty (MSG-LEN starts with a non-zero digit). */
export function octetFrame(message: string): string {
  const len = Buffer.byteLength(message, "utf8");
  if (len === 0) throw new AuditError("invalid_argument", "an octet-counted frame cannot be empty");
  return `${len} ${message}`;
}

/** The record without its line end (LF or CRLF). */
export function stripLineEnd(line: string): string {
  if (line.endsWith("\r\n")) return line.slice(0, -2);
  if (line.endsWith("\n")) return line.slice(0, -1);
  return line;
}

export interface FrameFormatOptions {
  /** CEF Device Version. Default "0.0.0". */
  productVersion?: string;
  /** Syslog facility 0..23 (default local4). */
  facility?: number;
  /** Syslog HOSTNAME (default os.hostname()). */
  hostname?: string;
}

/** One event as one octet-counted frame of the given format. */
export function frameFormatter(format: ExportFormat, o: FrameFormatOptions = {}): (row: EventRow) => string {
  let line: (row: EventRow) => string;
  switch (format) {
    case "jsonl":
      line = formatJsonl;
      break;
    case "csv":
      line = formatCsv;
      break;
    case "cef": {
      const cef = { version: o.productVersion ?? "0.0.0" };
      line = (row) => formatCef(row, cef);
      break;
    }
    case "syslog":
      line = syslogFormatter({ facility: o.facility, hostname: o.hostname });
      break;
    default:
      throw new AuditError("invalid_argument", `unknown export format ${String(format)}`);
  }
  return (row) => octetFrame(stripLineEnd(line(row)));
}
