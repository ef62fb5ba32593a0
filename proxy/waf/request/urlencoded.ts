/**
 * application/x-www-form-urlencoded, used for the query string and for form
 * bodies: pairs split on "&" only, "+" is a space, %XX is decoded once to the
 * byte it names (strings stay latin1 byte strings; nothing is UTF-8 decoded),
 * and an escape that is not two hex digits is kept as written.
 */
import type { Collector } from "./collector.js";
import { urlDecode } from "../transforms/url.js";

/** Decodes s[start, end) once: "+" → space, "%XX" → that byte; bad escapes stay literal (the url_decode transformation). */
export function decodeForm(s: string, start: number, end: number): string {
  return urlDecode(start === 0 && end === s.length ? s : s.slice(start, end));
}

/**
 * Splits s[start, end) into name=value pairs and hands them to the collector
 * (query or body). Empty pairs ("a=1&&b=2") are skipped; a pair without "="
 * has the value "". Stops once the argument limit is reached.
 */
export function parseUrlencoded(s: string, start: number, end: number, c: Collector, body: boolean): void {
  let i = start;
  // The next "=" at or after i, found once and reused, so a long run of pairs without "=" stays linear.
  let eq = s.indexOf("=", i);
  while (i < end) {
    let amp = s.indexOf("&", i);
    if (amp === -1 || amp > end) amp = end;
    if (amp > i) {
      if (eq !== -1 && eq < i) eq = s.indexOf("=", i);
      let name: string;
      let value: string;
      if (eq !== -1 && eq < amp) {
        name = decodeForm(s, i, eq);
        value = decodeForm(s, eq + 1, amp);
      } else {
        name = decodeForm(s, i, amp);
        value = "";
      }
      const ok = body ? c.bodyArg(name, value) : c.queryArg(name, value);
      if (!ok) return;
    }
    i = amp + 1;
  }
}
