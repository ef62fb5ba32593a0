/** Shared helpers for filter tests: requests, peers, a fake clock, a recording audit sink. */
import type { AuditEventInput } from "../../../audit/event.js";
import type { Denial, FilterDeps, FilterFactory, FilterRequest, HttpFilter } from "../../../proxy/filters/types.js";
import { peerFromSpiffeId, type PeerIdentity } from "../../../proxy/peer.js";

export type RequestInit = { -readonly [K in keyof FilterRequest]?: FilterRequest[K] };

export function request(init: RequestInit = {}): FilterRequest {
  const path = init.path ?? "/";
  return {
    method: "GET",
    url: path,
    path,
    query: "",
    host: "api.example.com",
    port: 8080,
    headers: {},
    listener: "inbound",
    listenerName: "inbound",
    route: "",
    remoteAddress: "10.1.2.3",
    requestId: "req-1",
    ...init,
  };
}

/** A peer from its Istio principal (`td/ns/x/sa/y`). */
export function peer(principal: string): PeerIdentity {
  return peerFromSpiffeId(`spiffe://${principal}`, "0a", new Date("2030-01-01T00:00:00Z"));
}

export class FakeClock {
  constructor(public ms = Date.UTC(2026, 0, 1)) {}
  readonly now = (): Date => new Date(this.ms);
  advance(ms: number): void {
    this.ms += ms;
  }
}

export interface TestDeps extends FilterDeps {
  readonly events: AuditEventInput[];
}

export function deps(clock = new FakeClock()): TestDeps {
  const events: AuditEventInput[] = [];
  return {
    clock: clock.now,
    audit: { append: (e) => void events.push(e) },
    listenerName: "inbound",
    listener: "inbound",
    baseDir: "/tmp",
    events,
  };
}

/** Validates raw config with the factory's schema (throws with the issues) and creates the filter. */
export function build<C>(factory: FilterFactory<C>, raw: unknown, d: FilterDeps = deps()): HttpFilter {
  const r = factory.schema.safeParse(raw);
  if (!r.success) throw new Error(issues(factory, raw).join("; "));
  return factory.create(r.data, d);
}

/** The schema's complaints as `path: message` lines ([] when the config is valid). */
export function issues<C>(factory: FilterFactory<C>, raw: unknown): string[] {
  const r = factory.schema.safeParse(raw);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
}

/** A synchronous decision (these filters never return a promise). */
export function decide(f: HttpFilter, req: FilterRequest): Denial | undefined {
  const d = f.onRequest(req);
  if (d instanceof Promise) throw new Error("expected a synchronous decision");
  return d;
}
