/**
 * Outlier detection by consecutive 5xx (Envoy's consecutive_5xx): after N
 * failures in a row an endpoint is ejected for base_ejection_time × the
 * number of times it has been ejected, capped at max_ejection_time. Local
 * failures (connect failure, reset, timeout) count as 5xx, as in Envoy
 * without split_external_local_origin_errors. Ejection ends by time, checked
 * lazily against `now`; the multiplier decays by one for every `interval`
 * the endpoint stays healthy. No timers.
 */
import { z } from "zod";
import { durationMs } from "../duration.js";
import type { Endpoint } from "./endpoint.js";
import type { AttemptOutcome } from "./retry.js";

export const outlierDetectionSchema = z
  .object({
    consecutive_5xx: z.number().int().min(1).max(1000).default(5),
    interval: durationMs({ min: 100, max: 3_600_000 }).default(10_000),
    base_ejection_time: durationMs({ min: 100, max: 3_600_000 }).default(30_000),
    max_ejection_time: durationMs({ min: 100, max: 86_400_000 }).default(300_000),
    /** At most this share of the endpoints is ejected at once; at least one may always be. */
    max_ejection_percent: z.number().min(0).max(100).default(10),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.max_ejection_time < c.base_ejection_time) {
      ctx.addIssue({ code: "custom", path: ["max_ejection_time"], message: "must not be shorter than base_ejection_time" });
    }
  });

export type OutlierDetectionConfig = z.output<typeof outlierDetectionSchema>;

/** Results that count towards consecutive_5xx. */
export function isFailure(outcome: AttemptOutcome): boolean {
  return typeof outcome === "number" ? outcome >= 500 : true;
}

export class OutlierDetector {
  /** Ejections made, and ejections refused by max_ejection_percent. */
  ejectionsTotal = 0;
  ejectionsOverflow = 0;

  constructor(readonly config: OutlierDetectionConfig) {}

  /**
   * Records one result of `ep` (a member of `hosts`); returns true when this
   * result ejected it. A failure past the threshold that max_ejection_percent
   * blocks is tried again at the next failure.
   */
  onResult(ep: Endpoint, outcome: AttemptOutcome, now: number, hosts: readonly Endpoint[]): boolean {
    if (!isFailure(outcome)) {
      ep.consecutive5xx = 0;
      return false;
    }
    ep.consecutive5xx++;
    if (ep.consecutive5xx < this.config.consecutive_5xx || ep.isEjected(now)) return false;
    if (!this.mayEject(now, hosts)) {
      this.ejectionsOverflow++;
      return false;
    }
    this.eject(ep, now);
    return true;
  }

  /** Ejections in force at `now` among `hosts`. */
  ejectedCount(now: number, hosts: readonly Endpoint[]): number {
    let n = 0;
    for (const h of hosts) if (h.isEjected(now)) n++;
    return n;
  }

  private mayEject(now: number, hosts: readonly Endpoint[]): boolean {
    const ejected = this.ejectedCount(now, hosts);
    if (ejected === 0) return true;
    return (ejected + 1) * 100 <= this.config.max_ejection_percent * hosts.length;
  }

  private eject(ep: Endpoint, now: number): void {
    const c = this.config;
    if (ep.ejections > 0 && ep.ejectedUntil > 0) {
      const healthyFor = Math.max(0, now - ep.ejectedUntil);
      ep.ejections = Math.max(0, ep.ejections - Math.floor(healthyFor / c.interval));
    }
    ep.ejections++;
    ep.ejectedUntil = now + Math.min(c.base_ejection_time * ep.ejections, c.max_ejection_time);
    ep.consecutive5xx = 0;
    this.ejectionsTotal++;
  }
}
