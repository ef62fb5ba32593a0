/**
 * Retrying a step SQLite refused with SQLITE_BUSY without waiting. Its busy
 * timeout covers waiting for a lock, but not the refusals it makes to avoid
 * a deadlock: a connection holding a read lock that needs the write lock
 * while another process holds it (switching a new file to WAL while other
 * processes open it too) is refused at once. The step is tried again, after
 * a short pause that grows, until the busy timeout has passed.
 */
import { sqliteCode } from "./sqlite-util.js";

export interface RetryClock {
  /** Milliseconds from an arbitrary origin, never going back. */
  now(): number;
  /** Blocks the caller for ms (opening a log is synchronous). */
  sleep(ms: number): void;
}

const SLEEPER = new Int32Array(new SharedArrayBuffer(4));

export const REAL_CLOCK: RetryClock = {
  now: () => performance.now(),
  sleep: (ms) => void Atomics.wait(SLEEPER, 0, 0, ms),
};

const FIRST_PAUSE_MS = 2;
const MAX_PAUSE_MS = 100;

const isBusy = (err: unknown): boolean => sqliteCode(err)?.startsWith("SQLITE_BUSY") === true;

/** Runs step, again while it throws SQLITE_BUSY and timeoutMs has not passed; the last error is thrown. */
export function retryWhileBusy<T>(step: () => T, timeoutMs: number, clock: RetryClock = REAL_CLOCK): T {
  const deadline = clock.now() + timeoutMs;
  let pause = FIRST_PAUSE_MS;
  for (;;) {
    try {
      return step();
    } catch (err) {
      const left = deadline - clock.now();
      if (!isBusy(err) || left <= 0) throw err;
      clock.sleep(Math.min(pause, left));
      pause = Math.min(pause * 2, MAX_PAUSE_MS);
    }
  }
}
