import test from "ava";
import { MemoryAuditSink } from "../../../audit/memory.js";
import { AuditWindow } from "../../../proxy/audit-window.js";
import { FilterChain } from "../../../proxy/filters/chain.js";
import type { HttpFilter } from "../../../proxy/filters/types.js";
import { request } from "./fixtures.js";

const refusing = (name: string): HttpFilter => ({ name, onRequest: () => ({ status: 429, code: "rate_limited", reason: "bucket empty" }) });

test("a sampled filter's denials are audited at most N times a second, all of them counted", (t) => {
  const audit = new MemoryAuditSink();
  let now = 1_000_000;
  let counted = 0;
  const chain = new FilterChain([refusing("rate_limit")], { audit, sampledFilters: new Map([["rate_limit", new AuditWindow(3, () => now)]]), onDeny: () => counted++ });
  for (let i = 0; i < 10; i++) t.is(chain.run(request()) && "denied", "denied");
  t.is(audit.find({ action: "rate_limit.deny" }).length, 3);
  now += 1000;
  for (let i = 0; i < 5; i++) chain.run(request());
  t.is(audit.find({ action: "rate_limit.deny" }).length, 6, "a new second opens a new window");
  t.is(counted, 15);
  const ev = audit.find({ action: "rate_limit.deny" })[0]!;
  t.is(ev.outcome, "deny");
  t.like(ev.details, { code: "rate_limited", status: 429 });
});

test("a quiet filter is never audited by the chain; other filters always are", (t) => {
  const audit = new MemoryAuditSink();
  const quiet = new FilterChain([refusing("waf")], { audit, quietFilters: new Set(["waf"]) });
  for (let i = 0; i < 3; i++) quiet.run(request());
  t.is(audit.events.length, 0);
  const loud = new FilterChain([refusing("authz")], { audit });
  for (let i = 0; i < 3; i++) loud.run(request());
  t.is(audit.find({ action: "authz.deny" }).length, 3);
});
