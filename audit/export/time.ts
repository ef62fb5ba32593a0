/**
 * Time bounds for export filters: an RFC 3339 date-time
 * ("2026-11-22T10:00:00Z", "2026-11-22T11:00:00.5+01:00") or a relative
 * duration meaning that long before now ("15m", "2h", "7d", "1h30m";
 * units s, m, h, d, w).
 */

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|([+-])(\d{2}):(\d{2}))$/;
const UNIT_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

function daysInMonth(year: number, month: number): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month, 0); // day 0 of the next month: the last day of this one
  return d.getUTCDate();
}

/** An RFC 3339 date-time as a Date, or undefined when the text is not one (Feb 30, hour 24, …). */
export function parseRfc3339(text: string): Date | undefined {
  const m = RFC3339.exec(text.trim());
  if (!m) return undefined;
  const [year, month, day, hour, minute] = [m[1], m[2], m[3], m[4], m[5]].map(Number);
  const second = Number(m[6]);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 60) return undefined;
  let offsetMin = 0;
  if (m[9] !== undefined) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return undefined;
    offsetMin = (m[9] === "-" ? -1 : 1) * (oh * 60 + om);
  }
  // A leap second (:60) is read as the last millisecond of its minute.
  const ms = second === 60 ? 999 : m[7] === undefined ? 0 : Number(`${m[7].slice(1)}00`.slice(0, 3));
  const d = new Date(0);
  // setUTCFullYear, unlike Date.UTC, keeps years 0..99 as they are.
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute - offsetMin, Math.min(second, 59), ms);
  return Number.isFinite(d.getTime()) ? d : undefined;
}

/** "15m", "2h", "7d", "1h30m" → milliseconds; undefined when it is not such a duration. */
export function parseRelativeMs(text: string): number | undefined {
  const t = text.trim();
  if (t === "") return undefined;
  const re = /(\d+)([smhdw])/y;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(t); m; m = re.exec(t)) {
    total += Number(m[1]) * UNIT_MS[m[2]];
    consumed = re.lastIndex;
  }
  return consumed === t.length && Number.isSafeInteger(total) ? total : undefined;
}

/** A --since/--until value: RFC 3339, or a duration before now. Undefined when it is neither. */
export function parseTimeBound(text: string, now: Date): Date | undefined {
  const abs = parseRfc3339(text);
  if (abs !== undefined) return abs;
  const rel = parseRelativeMs(text);
  if (rel === undefined) return undefined;
  const d = new Date(now.getTime() - rel);
  return Number.isFinite(d.getTime()) ? d : undefined;
}
