/**
 * ArcSight Common Event Format (CEF:0), one event per line:
 *
 *   CEF:0|mesh|mesh|<version>|<action>|<action> <outcome>|<severity>|<extension>
 *
 * Header fields escape "\" and "|" with a backslash; extension values escape
 * "\", "=" and write CR/LF as \r and \n (CEF spec). Header fields also get
 * the CR/LF escapes, defensively: they cannot occur in a valid event, but a
 * record must never span lines. Severity: deny 7, failure 5, success 1.
 *
 * Extension keys, in this order, each left out when its value is empty:
 *   rt (ms since the epoch), act (action), outcome, src (actor, when it is an
 *   IP address) or suser (any other actor), msg (reason),
 *   cs1 seq, cs2 hash, cs3 component, cs4 subject, cs5 details (canonical
 *   JSON), cs6 prev_hash — each csN with its csNLabel.
 */
import { isIP } from "node:net";
import type { EventRow } from "../query.js";

export const CEF_SEVERITY: Readonly<Record<string, number>> = { deny: 7, failure: 5, success: 1 };

/** Labels of cs1..cs6, in order. */
export const CEF_CUSTOM_LABELS = ["seq", "hash", "component", "subject", "details", "prev_hash"] as const;

export interface CefOptions {
  /** Device Version: the mesh package version. */
  version: string;
}

const HEADER_SPECIAL = /[\\|\r\n]/g;
const HAS_HEADER_SPECIAL = /[\\|\r\n]/;
const VALUE_SPECIAL = /[\\=\r\n]/g;
const HAS_VALUE_SPECIAL = /[\\=\r\n]/;
const ESCAPES: Readonly<Record<string, string>> = { "\\": "\\\\", "|": "\\|", "=": "\\=", "\r": "\\r", "\n": "\\n" };
const escapeChar = (c: string): string => ESCAPES[c] ?? c;

export function cefHeaderEscape(value: string): string {
  // Testing first is several times cheaper than replace() on the usual clean value.
  return HAS_HEADER_SPECIAL.test(value) ? value.replace(HEADER_SPECIAL, escapeChar) : value;
}

export function cefValueEscape(value: string): string {
  return HAS_VALUE_SPECIAL.test(value) ? value.replace(VALUE_SPECIAL, escapeChar) : value;
}

/** One event as a CEF line, newline included. */
export function formatCef(row: EventRow, opts: CefOptions): string {
  const severity = CEF_SEVERITY[row.outcome] ?? 5; // only a tampered row has another outcome
  const header =
    `CEF:0|mesh|mesh|${cefHeaderEscape(opts.version)}|${cefHeaderEscape(row.action)}` +
    `|${cefHeaderEscape(`${row.action} ${row.outcome}`)}|${severity}|`;
  const ext: string[] = [];
  const rt = Date.parse(row.ts);
  if (Number.isFinite(rt)) ext.push(`rt=${rt}`);
  ext.push(`act=${cefValueEscape(row.action)}`, `outcome=${cefValueEscape(row.outcome)}`);
  if (row.actor !== "") ext.push(`${isIP(row.actor) !== 0 ? "src" : "suser"}=${cefValueEscape(row.actor)}`);
  if (row.reason !== "") ext.push(`msg=${cefValueEscape(row.reason)}`);
  const custom = [String(row.seq), row.hash, row.component, row.subject, row.details, row.prev_hash];
  for (let i = 0; i < custom.length; i++) {
    if (custom[i] !== "") ext.push(`cs${i + 1}Label=${CEF_CUSTOM_LABELS[i]} cs${i + 1}=${cefValueEscape(custom[i])}`);
  }
  return `${header}${ext.join(" ")}\n`;
}
