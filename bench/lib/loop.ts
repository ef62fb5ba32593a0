/**
 * Bounded loops: every measurement stops at a count or a time limit,
 * whichever comes first, and says which one stopped it.
 */
import { performance } from "node:perf_hooks";

export interface LoopResult {
  /** Iterations that completed without throwing. */
  done: number;
  failed: number;
  firstError?: string;
  elapsedMs: number;
  /** True when the time limit (or too many failures) ended the loop before the count. */
  truncated: boolean;
}

export interface TimedLoopResult extends LoopResult {
  /** Per-iteration latency (ms) of the iterations that completed. */
  latenciesMs: Float64Array;
}

export interface LoopBounds {
  count: number;
  maxMs: number;
  /** Stop after this many failures (default 10): a broken setup should not spin until the time limit. */
  maxFailures?: number;
}

export const perSecond = (r: LoopResult): number => (r.elapsedMs > 0 ? (r.done * 1000) / r.elapsedMs : 0);

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Calls fn(i) for i = 0..count-1 synchronously until the count or maxMs is reached. */
export function loopSync(bounds: LoopBounds, fn: (i: number) => void): LoopResult {
  const maxFailures = bounds.maxFailures ?? 10;
  const start = performance.now();
  const stopAt = start + bounds.maxMs;
  let done = 0;
  let failed = 0;
  let firstError: string | undefined;
  let i = 0;
  for (; i < bounds.count && failed < maxFailures; i++) {
    // the clock is read every 16 iterations: cheap enough, and the overshoot is a few calls at most
    if ((i & 15) === 0 && performance.now() > stopAt) break;
    try {
      fn(i);
      done++;
    } catch (err) {
      failed++;
      firstError ??= message(err);
    }
  }
  return { done, failed, firstError, elapsedMs: performance.now() - start, truncated: i < bounds.count };
}

/**
 * Keeps `concurrency` calls of fn in flight until `count` calls were started
 * or maxMs passed; records each call's latency.
 */
export async function loopConcurrent(bounds: LoopBounds & { concurrency: number }, fn: (i: number) => Promise<void>): Promise<TimedLoopResult> {
  const maxFailures = bounds.maxFailures ?? 10;
  const latencies = new Float64Array(bounds.count);
  const start = performance.now();
  const stopAt = start + bounds.maxMs;
  let next = 0;
  let done = 0;
  let failed = 0;
  let firstError: string | undefined;
  const worker = async (): Promise<void> => {
    while (next < bounds.count && failed < maxFailures && performance.now() < stopAt) {
      const i = next++;
      const t0 = performance.now();
      try {
        await fn(i);
        latencies[done++] = performance.now() - t0;
      } catch (err) {
        failed++;
        firstError ??= message(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, bounds.concurrency) }, worker));
  return { done, failed, firstError, elapsedMs: performance.now() - start, truncated: done + failed < bounds.count, latenciesMs: latencies.subarray(0, done) };
}
