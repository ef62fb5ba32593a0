/**
 * A real syslog receiver: Debian's rsyslogd (installed by
 * scripts/install-test-tools.sh; this test fails, not skips, without it) on
 * loopback takes `mesh audit export --format syslog --to tcp://…` and
 * `--to tls://…` (OpenSSL driver, client certificates required) from the
 * real CLI, and the file it writes holds exactly the messages sent, once
 * each, byte for byte.
 */
import test from "ava";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { syslogFormatter } from "../../audit/export/syslog.js";
import { AuditPageReader } from "../../audit/export/reader.js";
import { readShipState } from "../../audit/export/ship-cursor.js";
import { AuditLog } from "../../audit/store.js";
import { mesh } from "../helpers/mesh-cli.js";
import { makeTestPki, startRsyslog, type Rsyslog, type TestPki } from "../helpers/rsyslog.js";
import { TRICKY } from "./export-fixtures.js";

const dirs: string[] = [];
const daemons: Rsyslog[] = [];
test.after.always(async () => {
  await Promise.all(daemons.map((d) => d.stop()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "ship-rsyslog-"));
  dirs.push(d);
  return d;
}

const N = 500;

/** N events (the tricky ones first) and the exact RFC 5424 messages the CLI should send for them. */
function makeDb(): { db: string; expected: string[] } {
  const dir = tempDir();
  const db = join(dir, "audit.db");
  const log = AuditLog.open(db);
  for (const input of TRICKY) log.append(input);
  log.appendMany(Array.from({ length: N - TRICKY.length }, (_, i) => ({ component: "waf", action: "waf.block", outcome: "deny" as const, actor: "10.0.0.1", details: { rule: 942100 + i } })));
  log.close();
  const source = AuditPageReader.open(db);
  const format = syslogFormatter({ hostname: hostname() });
  const expected = source.nextPage().map((row) => format(row).slice(0, -1));
  source.close();
  return { db, expected };
}

let pki: Promise<TestPki> | undefined;

async function rsyslog(t: { teardown: (fn: () => Promise<void>) => void }, tls: boolean): Promise<Rsyslog> {
  const started = Date.now();
  if (tls) pki ??= makeTestPki(tempDir());
  const p = tls ? await pki : undefined;
  const d = await startRsyslog(p ? { tls: { caFile: p.caFile, certFile: p.serverCertFile, keyFile: p.serverKeyFile, clientAuth: true } } : {});
  daemons.push(d);
  t.teardown(() => d.stop());
  (t as unknown as { log: (s: string) => void }).log(`rsyslogd${tls ? " (TLS)" : ""} listening on ${d.port} after ${Date.now() - started} ms`);
  return d;
}

test("rsyslogd over TCP receives exactly the N messages, byte for byte, once each", async (t) => {
  const { db, expected } = makeDb();
  t.is(expected.length, N);
  const d = await rsyslog(t, false);
  const started = Date.now();
  const r = await mesh(["audit", "export", "--db", db, "--format", "syslog", "--to", `tcp://127.0.0.1:${d.port}`]);
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, new RegExp(`^shipped ${N} events to tcp://127\\.0\\.0\\.1:${d.port}; cursor at seq ${N} in .*audit\\.db\\.ship-127\\.0\\.0\\.1-${d.port}\\.state\\n$`));
  t.is(r.stderr, "");
  const got = await d.waitForMessages(N, 5000);
  t.log(`${N} events shipped and written by rsyslogd in ${Date.now() - started} ms`);
  t.is(got.length, N);
  t.deepEqual(got, expected);
  t.is(readShipState(`${db}.ship-127.0.0.1-${d.port}.state`)?.lastSeq, N);

  // Run again: nothing new, nothing sent.
  const again = await mesh(["audit", "export", "--db", db, "--format", "syslog", "--to", `tcp://127.0.0.1:${d.port}`]);
  t.is(again.status, 0, again.stderr);
  t.regex(again.stdout, /^shipped 0 events/);
  await new Promise((res) => setTimeout(res, 200));
  t.is(d.messages().length, N, "no duplicates");
});

test("rsyslogd over TLS (ossl driver, client certificate required) receives exactly the N messages; without a client certificate nothing is proven", async (t) => {
  const { db, expected } = makeDb();
  const d = await rsyslog(t, true);
  const p = (await pki)!;
  const state = join(tempDir(), "tls.state");
  const r = await mesh([
    "audit", "export", "--db", db, "--format", "syslog", "--to", `tls://localhost:${d.port}`,
    "--ca", p.caFile, "--cert", p.clientCertFile, "--key", p.clientKeyFile, "--state", state,
  ]);
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, new RegExp(`^shipped ${N} events to tls://localhost:${d.port}`));
  const got = await d.waitForMessages(N, 5000);
  t.deepEqual(got, expected);
  t.is(readShipState(state)?.lastSeq, N);

  const noCert = join(tempDir(), "nocert.state");
  const refused = await mesh(["audit", "export", "--db", db, "--format", "syslog", "--to", `tls://127.0.0.1:${d.port}`, "--servername", "localhost", "--ca", p.caFile, "--state", noCert, "--timeout", "2s"]);
  t.is(refused.status, 1, refused.stdout);
  t.regex(refused.stderr, /mesh: delivery_timeout: could not deliver to tls:\/\/127\.0\.0\.1:\d+ within 2000 ms/);
  t.false(existsSync(noCert), "no cursor saved");
  await new Promise((res) => setTimeout(res, 200));
  t.is(d.messages().length, N, "rsyslogd took nothing from a client without a certificate");
});
