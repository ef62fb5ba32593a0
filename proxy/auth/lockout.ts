/**
 * Failed-login accounting for the Basic provider, per user name and per
 * client address. Each key keeps the times of its recent failures (those
 * inside `window`, at most as many as can still change a decision), so the
 * slow-down and the lockout are pure functions of the counters and the
 * clock: tests assert them with a fake clock and no sleeping.
 *
 * - slow-down: the n-th failure (n = the larger of the user's and the
 *   address's counts) waits min(max_delay, (n - slow_after) * slow_delay).
 * - lockout: at lock_after failures the key is locked for lock_time; while
 *   locked the password is not even checked. When the lock ends the key
 *   starts again from zero.
 * - a success clears the user's and the address's failures (and locks).
 *
 * Each table holds at most max_tracked keys; the least recently failed key
 * is forgotten first.
 */

export interface LockoutPolicy {
  /** Failures before answers slow down (0: from the first failure). */
  readonly slowAfter: number;
  /** Added per failure beyond slowAfter (0: no slow-down). */
  readonly slowDelayMs: number;
  readonly maxDelayMs: number;
  /** Failures that lock the key (0: never lock). */
  readonly lockAfter: number;
  readonly lockMs: number;
  /** Failures older than this are forgotten. */
  readonly windowMs: number;
  /** Keys per table (users, addresses). */
  readonly maxTracked: number;
}

interface Entry {
  /** Failure times (ms), oldest first. */
  times: number[];
  /** Locked until this time (ms); 0 when not locked. */
  lockedUntil: number;
}

/** Most failure times kept per key when only the slow-down needs them. */
const MAX_KEPT = 2000;

class FailureTable {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly policy: LockoutPolicy,
    private readonly keep: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The live entry for key at now (expired failures and ended locks dropped), or undefined. */
  private live(key: string, now: number): Entry | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.lockedUntil !== 0 && e.lockedUntil <= now) {
      e.lockedUntil = 0;
      e.times.length = 0;
    }
    const horizon = now - this.policy.windowMs;
    let drop = 0;
    while (drop < e.times.length && e.times[drop]! <= horizon) drop++;
    if (drop > 0) e.times.splice(0, drop);
    if (e.times.length === 0 && e.lockedUntil === 0) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }

  count(key: string, now: number): number {
    return this.live(key, now)?.times.length ?? 0;
  }

  /** Ms left on the key's lock (0: not locked). */
  lockedFor(key: string, now: number): number {
    const e = this.live(key, now);
    return e && e.lockedUntil > now ? e.lockedUntil - now : 0;
  }

  record(key: string, now: number): void {
    if (this.keep === 0) return;
    let e = this.live(key, now);
    if (e) {
      // Most recently failed last: the first key is the one to forget under pressure.
      this.entries.delete(key);
    } else {
      e = { times: [], lockedUntil: 0 };
      while (this.entries.size >= this.policy.maxTracked) {
        const oldest = this.entries.keys().next().value;
        if (oldest === undefined) break;
        this.entries.delete(oldest);
      }
    }
    this.entries.set(key, e);
    if (e.lockedUntil > now) return;
    e.times.push(now);
    if (e.times.length > this.keep) e.times.splice(0, e.times.length - this.keep);
    const { lockAfter, lockMs } = this.policy;
    if (lockAfter > 0 && e.times.length >= lockAfter) e.lockedUntil = now + lockMs;
  }

  clear(key: string): void {
    this.entries.delete(key);
  }
}

/** One client address per host: a dual-stack socket shows a.b.c.d as ::ffff:a.b.c.d. */
export function addressKey(remoteAddress: string): string {
  return remoteAddress.startsWith("::ffff:") && remoteAddress.includes(".") ? remoteAddress.slice(7) : remoteAddress;
}

export interface LockState {
  /** Ms until both the user and the address are unlocked (0: neither is locked). */
  readonly ms: number;
  readonly user: boolean;
  readonly address: boolean;
}

export class Lockout {
  private readonly users: FailureTable;
  private readonly addresses: FailureTable;

  constructor(readonly policy: LockoutPolicy) {
    const { lockAfter, slowAfter, slowDelayMs, maxDelayMs } = policy;
    // Beyond this many failures nothing changes: the lock is reached or the delay is at its cap.
    const slowCap = slowDelayMs > 0 ? slowAfter + Math.ceil(maxDelayMs / slowDelayMs) : 0;
    const keep = lockAfter > 0 ? lockAfter : Math.min(MAX_KEPT, slowCap);
    this.users = new FailureTable(policy, keep);
    this.addresses = new FailureTable(policy, keep);
  }

  /** Whether the user or the address is locked at now, and for how long. */
  locked(user: string, address: string, now: number): LockState {
    const u = this.users.lockedFor(user, now);
    const a = this.addresses.lockedFor(addressKey(address), now);
    return { ms: Math.max(u, a), user: u > 0, address: a > 0 };
  }

  /** Counts one failed attempt for both the user and the address. */
  recordFailure(user: string, address: string, now: number): void {
    this.users.record(user, now);
    this.addresses.record(addressKey(address), now);
  }

  /** A success: forget the user's and the address's failures. */
  clear(user: string, address: string): void {
    this.users.clear(user);
    this.addresses.clear(addressKey(address));
  }

  userFailures(user: string, now: number): number {
    return this.users.count(user, now);
  }

  addressFailures(address: string, now: number): number {
    return this.addresses.count(addressKey(address), now);
  }

  /** The wait before answering a failure, from the counters at now. */
  delayMs(user: string, address: string, now: number): number {
    const n = Math.max(this.userFailures(user, now), this.addressFailures(address, now));
    return slowDownMs(this.policy, n);
  }

  /** Keys held (users, addresses): for tests and status. */
  get tracked(): { users: number; addresses: number } {
    return { users: this.users.size, addresses: this.addresses.size };
  }
}

/** The slow-down for the n-th recent failure. */
export function slowDownMs(policy: LockoutPolicy, failures: number): number {
  const beyond = failures - policy.slowAfter;
  if (beyond <= 0 || policy.slowDelayMs === 0) return 0;
  return Math.min(policy.maxDelayMs, beyond * policy.slowDelayMs);
}

/** Retry-After in whole seconds, at least 1, rounded up so a client that waits is let in. */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
