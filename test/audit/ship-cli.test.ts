/**
 * `mesh audit export --to` as a child process: killed with SIGKILL
 * mid-stream and started again with the same state file (nothing missing,
 * duplicates only after the saved cursor), --follow delivering a new event
 * within a second, and the usage errors of the shipping flags.
 */
import test from "ava";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readShipState } from "../../audit/export/ship-cursor.js";
import { AuditLog } from "../../audit/store.js";
import { MESH_BIN } from "../helpers/env.js";
import { exitWithin, mesh, type ChildExit } from "../helpers/mesh-cli.js";
import { FrameCollector } from "../helpers/syslog-collector.js";

const dirs: string[] = [];
const cleanups: (() => unknown)[] = [];
test.after.always(async () => {
  for (const c of cleanups) await c();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "ship-cli-"));
  dirs.push(d);
  return d;
}
async function collector(...args: Parameters<typeof FrameCollector.start>): Promise<FrameCollector> {
  const c = await FrameCollector.start(...args);
  cleanups.push(() => c.stop());
  return c;
}

function makeDb(dir: string, n: number): string {
  const path = join(dir, "audit.db");
  const log = AuditLog.open(path);
  for (let i = 0; i < n; i += 1000) {
    log.appendMany(Array.from({ length: Math.min(1000, n - i) }, (_, k) => ({ component: "proxy", action: "proxy.authz", outcome: "success" as const, details: { i: i + k } })));
  }
  log.close();
  return path;
}

function start(args: string[]): { exited: Promise<ChildExit>; kill: (s: NodeJS.Signals) => void; stderr: () => string; stdout: () => string } {
  const child = spawn(process.execPath, [MESH_BIN, "audit", "export", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  cleanups.push(() => child.kill("SIGKILL"));
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<ChildExit>((r) => child.on("exit", (code, signal) => r({ code, signal })));
  return { exited, kill: (s) => child.kill(s), stderr: () => stderr, stdout: () => stdout };
}

const seqOf = (text: string): number => (JSON.parse(text) as { seq: number }).seq;

test("SIGKILL mid-stream, then a restart with the same state file: nothing missing, duplicates only after the saved cursor", async (t) => {
  const dir = tempDir();
  const N = 12_000;
  const db = makeDb(dir, N);
  const state = join(dir, "ship.state");
  const running: { exporter?: ReturnType<typeof start> } = {};
  const c = await collector({
    onFrame: (_f, col) => {
      if (col.frames.length === 5000) running.exporter?.kill("SIGKILL");
    },
  });
  const args = ["--db", db, "--format", "jsonl", "--to", `tcp://127.0.0.1:${c.port}`, "--state", state];
  const exporter = start(args);
  running.exporter = exporter;
  t.deepEqual(await exitWithin(exporter.exited, 60_000), { code: null, signal: "SIGKILL" }, exporter.stderr());
  const firstRun = c.frames.map((f) => seqOf(f.text));
  const saved = readShipState(state)?.lastSeq ?? 0;
  t.log(`killed after ${firstRun.length} frames; saved cursor ${saved}`);
  t.true(firstRun.length >= 5000 && firstRun.length < N, `${firstRun.length} frames before the kill`);
  t.deepEqual(firstRun, Array.from({ length: firstRun.length }, (_, i) => i + 1), "the first run sent in seq order");
  t.true(saved < firstRun.length, "the cursor never runs ahead of what the collector got");

  const again = await mesh(["audit", "export", ...args]);
  t.is(again.status, 0, again.stderr);
  t.regex(again.stdout, new RegExp(`^shipped ${N - saved} events .*cursor at seq ${N} `));
  const secondRun = c.frames.slice(firstRun.length).map((f) => seqOf(f.text));
  t.deepEqual(secondRun, Array.from({ length: N - saved }, (_, i) => saved + i + 1), "the restart resumed right after the saved cursor");
  const duplicates = firstRun.filter((s) => s > saved).length;
  t.true(duplicates <= 2000, `${duplicates} duplicates: at most one session of the killed run`);
  t.is(readShipState(state)?.lastSeq, N);
});

test("--follow --to delivers an event appended after start within a second; SIGTERM saves the cursor and exits 0", async (t) => {
  const dir = tempDir();
  const db = makeDb(dir, 1);
  const state = join(dir, "follow.state");
  const c = await collector();
  const p = start(["--db", db, "--format", "jsonl", "--to", `tcp://127.0.0.1:${c.port}`, "--state", state, "--follow"]);
  t.true(await c.waitFor(() => c.frames.length === 1, 60_000), `the backlog did not arrive: ${p.stderr()}`);
  const log = AuditLog.open(db);
  for (let n = 1; n <= 3; n++) {
    const appendedAt = Date.now();
    const ev = log.append({ component: "ca", action: "ca.sign", outcome: "success", details: { n } });
    t.true(await c.waitFor(() => c.frames.length === n + 1, 3000), `event ${ev.seq} not delivered: ${p.stderr()}`);
    const latency = c.frames[n].at - appendedAt;
    t.is(seqOf(c.frames[n].text), ev.seq);
    t.true(latency < 1000, `event ${ev.seq} took ${latency} ms`);
    t.log(`event ${ev.seq} delivered after ${latency} ms`);
  }
  log.close();
  p.kill("SIGTERM");
  t.deepEqual(await exitWithin(p.exited, 10_000), { code: 0, signal: null }, p.stderr());
  t.is(p.stderr(), "");
  t.regex(p.stdout(), /cursor at seq 4 /);
  t.is(readShipState(state)?.lastSeq, 4);
});

test("--follow --to rides out a collector outage, saying so on stderr", async (t) => {
  const dir = tempDir();
  const db = makeDb(dir, 5);
  const state = join(dir, "outage.state");
  const c = await collector();
  const p = start(["--db", db, "--format", "jsonl", "--to", `tcp://127.0.0.1:${c.port}`, "--state", state, "--follow"]);
  t.true(await c.waitFor(() => c.frames.length === 5, 60_000), p.stderr());
  await c.stop();
  const log = AuditLog.open(db);
  log.append({ component: "ca", action: "ca.sign", outcome: "success" });
  // The open session dies (a reset), then connections are refused: each failure is one line, with the back-off.
  t.true(await c.waitFor(() => /ECONNREFUSED.*; retry \d+ in \d+\.\d s\n/.test(p.stderr()), 15_000), p.stderr());
  await c.restart();
  t.true(await c.waitFor(() => c.frames.some((f) => seqOf(f.text) === 6), 30_000), p.stderr());
  log.close();
  p.kill("SIGTERM");
  t.deepEqual(await exitWithin(p.exited, 10_000), { code: 0, signal: null }, p.stderr());
  t.is(readShipState(state)?.lastSeq, 6);
});

test("usage errors of the shipping flags exit 2 with one line", async (t) => {
  const dir = tempDir();
  const db = makeDb(dir, 1);
  const cases: [string[], RegExp][] = [
    [["--to", "udp://127.0.0.1:514"], /--to 'udp:\/\/127\.0\.0\.1:514' must be tcp:\/\/HOST:PORT or tls:\/\/HOST:PORT/],
    [["--to", "tcp://127.0.0.1:514", "--out", join(dir, "x")], /--out and --to exclude each other/],
    [["--to", "tcp://127.0.0.1:514", "--ca", "ca.pem"], /--ca needs a tls:\/\/ destination/],
    [["--to", "tls://127.0.0.1:514", "--cert", "c.pem"], /--cert and --key go together/],
    [["--to", "tcp://127.0.0.1:514", "--timeout", "soon"], /--timeout 'soon'/],
    [["--to", "tls://127.0.0.1:514", "--ca", db], /--ca file .*audit\.db: no PEM certificate in it/],
    [["--to", "tls://127.0.0.1:514", "--cert", db, "--key", db], /--ca\/--cert\/--key: .*PEM/],
    [["--state", "s"], /--state needs --to/],
    [["--to", "tcp://127.0.0.1:514", "--state", db], /--state must not be the audit database/],
  ];
  // Three at a time: a dozen node processes at once starve the other tests of this file on a two-core machine.
  const results: Awaited<ReturnType<typeof mesh>>[] = [];
  for (let k = 0; k < cases.length; k += 3) {
    results.push(...(await Promise.all(cases.slice(k, k + 3).map(([args]) => mesh(["audit", "export", "--db", db, ...args])))));
  }
  for (const [k, [args, re]] of cases.entries()) {
    t.is(results[k].status, 2, `${args.join(" ")}: ${results[k].stderr}`);
    t.regex(results[k].stderr, re, args.join(" "));
    t.is(results[k].stderr.split("\n").length, 2, "one line");
  }
  const missing = await mesh(["audit", "export", "--db", join(dir, "nope.db"), "--to", "tcp://127.0.0.1:514"]);
  t.is(missing.status, 1);
  t.regex(missing.stderr, /^mesh: not_found: no audit log at .*nope\.db\n$/);
});
