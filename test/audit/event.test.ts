import test from "ava";
import { AuditError } from "../../audit/errors.js";
import { canonicalJson, computeEventHash } from "../../audit/canonical.js";
import { AUDIT_LIMITS, formatTimestamp, prepareEvent, sealEvent, type AuditEventInput } from "../../audit/event.js";
import { MemoryAuditSink, NullAuditSink } from "../../audit/memory.js";
import { REDACTED } from "../../audit/redact.js";

const ok: AuditEventInput = { component: "proxy", action: "authz.check", outcome: "deny" };

function rejects(t: import("ava").ExecutionContext, input: unknown, label: string): void {
  const err = t.throws(() => prepareEvent(input as AuditEventInput), { instanceOf: AuditError }, label);
  t.is(err?.code, "invalid_event", label);
}

test("a minimal event gets empty strings and empty details", (t) => {
  const p = prepareEvent(ok);
  t.deepEqual(p, { ...ok, actor: "", subject: "", reason: "", details: {}, detailsJson: "{}" });
});

test("component and action must be short [a-z0-9_.-] names", (t) => {
  for (const name of ["", "Proxy", "pro xy", "proxy/x", "ü", "a".repeat(AUDIT_LIMITS.nameMaxLength + 1)]) {
    rejects(t, { ...ok, component: name }, `component ${name}`);
    rejects(t, { ...ok, action: name }, `action ${name}`);
  }
  rejects(t, { ...ok, component: 5 }, "number component");
  rejects(t, { outcome: "deny", action: "x" }, "missing component");
  t.notThrows(() => prepareEvent({ ...ok, component: "a".repeat(AUDIT_LIMITS.nameMaxLength), action: "waf_rule-9.2" }));
});

test("outcome must be success, failure or deny", (t) => {
  for (const outcome of ["success", "failure", "deny"] as const) t.notThrows(() => prepareEvent({ ...ok, outcome }));
  for (const outcome of ["allow", "", "DENY", null, undefined]) rejects(t, { ...ok, outcome }, String(outcome));
});

test("actor, subject and reason are strings of at most 1 KiB (UTF-8)", (t) => {
  t.notThrows(() => prepareEvent({ ...ok, reason: "x".repeat(1024) }));
  rejects(t, { ...ok, reason: "x".repeat(1025) }, "long ascii");
  rejects(t, { ...ok, actor: "€".repeat(342) }, "1026 bytes in 342 chars");
  rejects(t, { ...ok, subject: 42 }, "number subject");
  rejects(t, null, "null event");
  rejects(t, "event", "string event");
});

test("details must be a bounded JSON object", (t) => {
  rejects(t, { ...ok, details: [] }, "array");
  rejects(t, { ...ok, details: "x" }, "string");
  rejects(t, { ...ok, details: null }, "null");
  rejects(t, { ...ok, details: { n: Number.NaN } }, "NaN");
  rejects(t, { ...ok, details: { n: Number.NEGATIVE_INFINITY } }, "-Infinity");
  rejects(t, { ...ok, details: { f: () => 1 } }, "function");
  rejects(t, { ...ok, details: { u: undefined } }, "undefined");
  rejects(t, { ...ok, details: { b: 1n } }, "bigint");
  rejects(t, { ...ok, details: { d: new Date(0) } }, "Date");
  rejects(t, { ...ok, details: { s: "\uDFFF" } }, "lone surrogate");
  rejects(t, { ...ok, details: { big: "x".repeat(AUDIT_LIMITS.detailsMaxBytes) } }, "too large");
  // Depth: the details object is level 1.
  let nested: Record<string, unknown> = { leaf: 1 };
  for (let i = 1; i < AUDIT_LIMITS.detailsMaxDepth; i++) nested = { n: nested };
  t.notThrows(() => prepareEvent({ ...ok, details: nested as AuditEventInput["details"] }));
  rejects(t, { ...ok, details: { n: nested } }, "too deep");
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  rejects(t, { ...ok, details: cyclic }, "cycle");
});

test("redaction runs on details and on actor, subject and reason", (t) => {
  const p = prepareEvent({
    ...ok,
    actor: "Bearer abcdef123",
    reason: "upstream sent Bearer zzz9",
    details: { password: "hunter2", path: "/login" },
  });
  t.is(p.actor, `Bearer ${REDACTED}`);
  t.is(p.reason, `upstream sent Bearer ${REDACTED}`);
  t.deepEqual(p.details, { password: REDACTED, path: "/login" });
  t.is(p.detailsJson, canonicalJson(p.details));
  t.false(p.detailsJson.includes("hunter2"));
  // An over-size secret is redacted before the size bound applies.
  t.notThrows(() => prepareEvent({ ...ok, details: { private_key: "k".repeat(40_000) } }));
});

test("sealEvent links and hashes", (t) => {
  const p = prepareEvent({ ...ok, details: { n: 1 } });
  const ev = sealEvent(p, 7, "2026-11-22T10:00:00.123Z", "a".repeat(64));
  t.is(ev.seq, 7);
  t.is(ev.prev_hash, "a".repeat(64));
  t.is(ev.hash, computeEventHash({ ...p, seq: 7, ts: ev.ts, prev_hash: ev.prev_hash }));
});

test("formatTimestamp gives RFC 3339 UTC with ms and rejects invalid dates", (t) => {
  t.is(formatTimestamp(new Date(Date.UTC(2026, 10, 22, 10, 0, 0, 5))), "2026-11-22T10:00:00.005Z");
  for (const bad of [new Date(Number.NaN), new Date(Date.UTC(10000, 0, 1)), "2026" as unknown as Date]) {
    const err = t.throws(() => formatTimestamp(bad), { instanceOf: AuditError });
    t.is(err?.code, "invalid_argument");
  }
});

test("MemoryAuditSink chains like the store; NullAuditSink still validates", (t) => {
  let now = Date.UTC(2026, 0, 1);
  const sink = new MemoryAuditSink({ clock: () => new Date(now++) });
  const a = sink.append({ ...ok, actor: "a" });
  const b = sink.append({ ...ok, outcome: "success", actor: "b" });
  t.is(a.seq, 1);
  t.is(b.seq, 2);
  t.is(b.prev_hash, a.hash);
  t.is(a.ts, "2026-01-01T00:00:00.000Z");
  t.deepEqual(sink.find({ outcome: "success" }), [b]);
  t.throws(() => new NullAuditSink().append({ ...ok, component: "" }), { instanceOf: AuditError });
  t.notThrows(() => new NullAuditSink().append(ok));
});
