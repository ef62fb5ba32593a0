/**
 * Runs a listener's filters in order. Synchronous filters cost a loop step;
 * the first asynchronous one switches the rest of the run to await. A
 * denial is audited (unless the filter asks not to: rate limiting would flood
 * the log) and counted; a filter that throws becomes a 500 "filter_error",
 * never a crash.
 */
import type { AuditSink } from "../../audit/event.js";
import type { AuditWindow } from "../audit-window.js";
import type { Denial, FilterRequest, HttpFilter } from "./types.js";

export interface ChainHooks {
  audit: AuditSink;
  /** Counted per filter and code. */
  onDeny?(filter: string, denial: Denial): void;
  /** Filters whose denials are not audited one by one (counted only). */
  quietFilters?: ReadonlySet<string>;
  /** Filters whose denials are audited only as far as their window allows (a flood of 429s must not fill the log); the rest are counted only. */
  sampledFilters?: ReadonlyMap<string, AuditWindow>;
}

export interface ChainVerdict {
  filter: string;
  denial: Denial;
}

export class FilterChain {
  readonly needsBody: boolean;

  constructor(
    readonly filters: readonly HttpFilter[],
    private readonly hooks: ChainHooks,
  ) {
    this.needsBody = filters.some((f) => f.needsBody === true);
  }

  /** undefined = go on; otherwise who refused and how. */
  run(req: FilterRequest): ChainVerdict | undefined | Promise<ChainVerdict | undefined> {
    const fs = this.filters;
    for (let i = 0; i < fs.length; i++) {
      const f = fs[i]!;
      let r: Denial | undefined | Promise<Denial | undefined>;
      try {
        r = f.onRequest(req);
      } catch (err) {
        return this.denied(req, f.name, crashed(f.name, err));
      }
      if (r === undefined) continue;
      if (r instanceof Promise) return this.runAsync(req, i, r);
      return this.denied(req, f.name, r);
    }
    return undefined;
  }

  private async runAsync(req: FilterRequest, at: number, pending: Promise<Denial | undefined>): Promise<ChainVerdict | undefined> {
    const fs = this.filters;
    for (let i = at; i < fs.length; i++) {
      const f = fs[i]!;
      let r: Denial | undefined;
      try {
        r = i === at ? await pending : await f.onRequest(req);
      } catch (err) {
        return this.denied(req, f.name, crashed(f.name, err));
      }
      if (r !== undefined) return this.denied(req, f.name, r);
    }
    return undefined;
  }

  private denied(req: FilterRequest, filter: string, denial: Denial): ChainVerdict {
    this.hooks.onDeny?.(filter, denial);
    if (!this.hooks.quietFilters?.has(filter) && (this.hooks.sampledFilters?.get(filter)?.allow() ?? true)) {
      try {
        this.hooks.audit.append({
          component: denial.component ?? "proxy",
          action: `${filter}.deny`,
          outcome: denial.outcome ?? "deny",
          actor: req.auth?.principal ?? req.peer?.spiffeId ?? req.remoteAddress,
          subject: `${req.method} ${req.host}${req.path}`.slice(0, 512),
          reason: denial.reason,
          details: {
            code: denial.code,
            status: denial.status,
            listener: req.listenerName,
            route: req.route,
            request_id: req.requestId,
            ...(denial.details ?? {}),
          },
        });
      } catch {
        // an audit failure must not turn a denial into an allow; the caller still refuses
      }
    }
    return { filter, denial };
  }
}

function crashed(filter: string, err: unknown): Denial {
  return {
    status: 500,
    code: "filter_error",
    reason: `filter ${filter} failed: ${(err instanceof Error ? err.message : String(err)).slice(0, 200)}`,
    outcome: "failure",
  };
}
