/**
 * When to renew and how long to back off. Pure functions of time and a random
 * source, so tests check them without sleeping.
 */
export type Random = () => number;

export interface RenewalPolicy {
  /** Fraction of the lifetime after which to renew (default 0.5). */
  fraction: number;
  /** ± jitter as a fraction of the lifetime (default 0.1), so a fleet does not renew in lockstep. */
  jitter: number;
}

export const DEFAULT_RENEWAL: RenewalPolicy = { fraction: 0.5, jitter: 0.1 };

/** The instant to renew a certificate valid from notBefore to notAfter. */
export function renewalTime(notBefore: Date, notAfter: Date, policy: RenewalPolicy = DEFAULT_RENEWAL, random: Random = Math.random): Date {
  const life = notAfter.getTime() - notBefore.getTime();
  const f = Math.min(0.95, Math.max(0.05, policy.fraction + (random() * 2 - 1) * policy.jitter));
  return new Date(notBefore.getTime() + life * f);
}

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  /** Up to this fraction of the delay is added at random. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 500, maxMs: 60_000, jitter: 0.2 };

/** Exponential back-off, capped, with jitter; reset on success. */
export class Backoff {
  private failures = 0;

  constructor(
    private readonly policy: BackoffPolicy = DEFAULT_BACKOFF,
    private readonly random: Random = Math.random,
  ) {}

  /** Records a failure and returns how long to wait before the next try. */
  fail(): number {
    const base = Math.min(this.policy.maxMs, this.policy.initialMs * 2 ** Math.min(this.failures, 30));
    this.failures++;
    return Math.min(this.policy.maxMs * (1 + this.policy.jitter), base + base * this.policy.jitter * this.random());
  }

  succeed(): void {
    this.failures = 0;
  }

  get attempts(): number {
    return this.failures;
  }
}
