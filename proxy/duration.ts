/**
 * Durations in the proxy's config: strings such as "250ms", "5s", "1m",
 * "1h" or "1m30s". Bare numbers are rejected (is 5 seconds or ms?), and
 * every key bounds its value, so a typo cannot set a timeout to a week.
 */
import { z } from "zod";

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
/** Longest duration text accepted; real durations are a few characters. */
const MAX_TEXT = 32;
/** Nothing in the proxy waits longer than a day. */
export const MAX_DURATION_MS = 86_400_000;

/** Whole milliseconds, or undefined when the text is not a duration (or is above a day or not whole ms). */
export function parseDurationMs(text: string): number | undefined {
  if (text.length === 0 || text.length > MAX_TEXT) return undefined;
  const re = /(\d{1,9}(?:\.\d{1,6})?)(ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  const seen = new Set<string>();
  while (pos < text.length) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) return undefined;
    const unit = m[2]!;
    // "1s1s" is more likely a typo than an intent.
    if (seen.has(unit)) return undefined;
    seen.add(unit);
    total += Number(m[1]) * UNIT_MS[unit]!;
    pos = re.lastIndex;
  }
  // Round away float noise ("0.1s" * 1000), then insist on whole milliseconds.
  const rounded = Math.round(total * 1000) / 1000;
  if (!Number.isInteger(rounded) || rounded > MAX_DURATION_MS) return undefined;
  return rounded;
}

/** The shortest text parseDurationMs reads back as `ms` (for config export and dumps). */
export function formatDurationMs(ms: number): string {
  if (ms === 0) return "0s";
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

export interface DurationBounds {
  /** Smallest value accepted, in ms (default 1). Use 0 where "0s" means "none". */
  readonly min?: number;
  /** Largest value accepted, in ms (default a day). */
  readonly max?: number;
}

/** A zod schema: duration text in, whole milliseconds out, within bounds. */
export function durationMs(bounds: DurationBounds = {}) {
  const min = bounds.min ?? 1;
  const max = Math.min(bounds.max ?? MAX_DURATION_MS, MAX_DURATION_MS);
  return z.string().transform((text, ctx) => {
    const ms = parseDurationMs(text);
    if (ms === undefined) {
      ctx.addIssue({ code: "custom", message: `expected a duration such as "250ms", "5s" or "1m", got ${JSON.stringify(text.slice(0, MAX_TEXT))}` });
      return z.NEVER;
    }
    if (ms < min || ms > max) {
      ctx.addIssue({ code: "custom", message: `expected a duration from ${formatDurationMs(min)} to ${formatDurationMs(max)}, got "${text}"` });
      return z.NEVER;
    }
    return ms;
  });
}
