/** Shared by the export tests: events full of characters that break naive CSV, JSON, CEF and syslog writers. */
import test from "ava";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AuditEvent, AuditEventInput } from "../../audit/event.js";
import { AuditLog } from "../../audit/store.js";

const dirs: string[] = [];
test.after.always(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

export const T0 = Date.UTC(2026, 10, 22, 10, 0, 0, 0);

/** Events that break naive CSV/JSON writers (the same set the CEF/syslog tests use). */
export const TRICKY: AuditEventInput[] = [
  { component: "ca", action: "ca.sign", outcome: "deny", actor: "node:n1", subject: "spiffe://example.org/ns/a|b/sa/x=y", reason: "pipe | equals = backslash \\ end", details: { note: 'a,b "q" ]', n: 1 } },
  { component: "proxy", action: "proxy.authz", outcome: "failure", actor: "10.0.0.7", subject: 'quote " bracket ] backslash \\', reason: "line1\nline2\r\nline3\rend", details: { "k=v": "x|y", nested: { arr: [1, "two", null, true] } } },
  { component: "waf", action: "waf.block", outcome: "deny", actor: "2001:db8::1", subject: "日本語 é ü 😀", reason: 'csv, "quoted", and, commas', details: { emoji: "😀", ctrl: "tab\tnul\u0000bell\u0007" } },
  { component: "ca", action: "ca.rotate.activate", outcome: "success" },
  { component: "agent", action: "agent.rotate.with.a.much.longer.action.name", outcome: "success", actor: "ca-admin", subject: "x cs1=evil msg=injected", reason: ' ]"[ \\" padded ', details: { "\\": "\\\\" } },
  { component: "proxy", action: "proxy.authz", outcome: "deny", actor: "client a=b", subject: 'a"] [evil@1 x="y', reason: "ok\nCEF:0|evil|evil|1|x|y|10|\n<13>1 - - - - - -", details: { "10": 1, "9": 2, a: "\r\n" } },
  { component: "sds", action: "sds.push", outcome: "failure", actor: "=cmd|' /C calc'!A0", subject: "nel\u0085ls\u2028ps\u2029", reason: "\\n is not a newline", details: { list: ["a,b", "c\"d"] } },
];

export function makeLog(): { path: string; events: AuditEvent[] } {
  const dir = mkdtempSync(join(tmpdir(), "audit-export-"));
  dirs.push(dir);
  const path = join(dir, "audit.db");
  let i = 0;
  const log = AuditLog.open(path, { clock: () => new Date(T0 + 60_000 * i++) });
  for (const input of TRICKY) log.append(input);
  const events = [...log.query()];
  log.close();
  return { path, events };
}


/** A fresh audit database path in a directory removed after the tests. */
export function tempAuditPath(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), "audit-export-"));
  dirs.push(dir);
  return join(dir, name);
}
