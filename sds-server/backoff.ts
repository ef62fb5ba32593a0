/** Reconnect delays: exponential from initialMs, capped at maxMs, with "equal jitter" so retries of many sidecars spread out. */
export interface Backoff {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 100, maxMs: 10_000 };

/** Delay before reconnect attempt number `attempt` (0-based); `random` returns [0, 1). */
export function backoffDelay(attempt: number, backoff: Backoff, random: () => number): number {
  const exp = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(attempt, 30));
  const r = Math.min(Math.max(random(), 0), 1);
  // Half fixed, half random: grows with the attempt yet never exceeds the cap.
  return Math.round(Math.min(backoff.maxMs, exp / 2 + (exp / 2) * r));
}
