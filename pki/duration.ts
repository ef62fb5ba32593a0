/**
 * Durations as people write them in config and flags: "90", "90s", "10m",
 * "1h", "2d", "1h30m", "250ms". Lives in pki/ because every part that reads
 * config (agent, proxy, CLI) may import pki/.
 */
const UNIT: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };

/** Seconds, or undefined when the text is not a duration. */
export function parseDurationSeconds(text: string): number | undefined {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(t); m; m = re.exec(t)) {
    total += Number(m[1]) * UNIT[m[2]!]!;
    consumed = re.lastIndex;
  }
  return consumed === t.length && t.length > 0 ? total : undefined;
}
