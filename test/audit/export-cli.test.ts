/**
 * `mesh audit export` as a child process: --out (mode 0600), filters from the
 * command line, exit codes, a reader that goes away (EPIPE), and --follow
 * delivering a new event within a second.
 */
import test from "ava";
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AuditEvent, AuditEventInput } from "../../audit/event.js";
import { AuditLog } from "../../audit/store.js";
import { MESH_BIN } from "../helpers/env.js";
import { exitWithin, mesh, sleep, type ChildExit } from "../helpers/mesh-cli.js";

const dirs: string[] = [];
const children: (() => void)[] = [];
test.after.always(() => {
  for (const kill of children) kill();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDirPath(): string {
  const dir = mkdtempSync(join(tmpdir(), "audit-export-cli-"));
  dirs.push(dir);
  return dir;
}

const HOUR = 3_600_000;

/** Six events at 6 h, 5 h, … 1 h before now, so relative --since values select a known tail. */
function makeLog(): { dir: string; path: string; events: AuditEvent[] } {
  const dir = tempDirPath();
  const path = join(dir, "audit.db");
  const start = Date.now() - 6 * HOUR;
  let i = 0;
  const log = AuditLog.open(path, { clock: () => new Date(start + HOUR * i++) });
  const inputs: AuditEventInput[] = [
    { component: "ca", action: "ca.sign", outcome: "success", subject: "spiffe://example.org/ns/a/sa/web", details: { serial: "01" } },
    { component: "ca", action: "ca.sign", outcome: "deny", reason: "not registered, sorry", subject: "spiffe://example.org/ns/a/sa/x" },
    { component: "ca", action: "ca.rotate.prepare", outcome: "success" },
    { component: "proxy", action: "proxy.authz", outcome: "deny", actor: "10.1.2.3", reason: 'line\n"two"' },
    { component: "ca", action: "ca.rotate.activate", outcome: "success" },
    { component: "ca", action: "ca.revoke", outcome: "failure", reason: "unknown serial" },
  ];
  for (const input of inputs) log.append(input);
  const events = [...log.query()];
  log.close();
  return { dir, path, events };
}

const fx = makeLog();

const seqsOf = (jsonl: string): number[] =>
  jsonl
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => (JSON.parse(l) as AuditEvent).seq);

test("--out creates the file with mode 0600 and writes what stdout would get; an existing file is truncated and keeps its mode", async (t) => {
  const out = join(fx.dir, "new.jsonl");
  const r = await mesh(["audit", "export", "--db", fx.path, "--format", "jsonl", "--out", out]);
  t.is(r.status, 0, r.stderr);
  t.is(r.stdout, "");
  t.is(statSync(out).mode & 0o777, 0o600);
  const text = readFileSync(out, "utf8");
  t.deepEqual(text.trimEnd().split("\n").map((l) => JSON.parse(l) as AuditEvent), fx.events);
  const toStdout = await mesh(["audit", "export", "--db", fx.path]);
  t.is(toStdout.status, 0, toStdout.stderr);
  t.is(toStdout.stdout, text, "jsonl is the default format and stdout gets the same bytes");

  const existing = join(fx.dir, "existing.csv");
  writeFileSync(existing, "x".repeat(100_000));
  chmodSync(existing, 0o640);
  const r2 = await mesh(["audit", "export", "--db", fx.path, "--format", "csv", "--out", existing]);
  t.is(r2.status, 0, r2.stderr);
  t.is(statSync(existing).mode & 0o777, 0o640);
  const csv = readFileSync(existing, "utf8");
  t.true(csv.startsWith("seq,ts,component,"), csv.slice(0, 50));
  t.false(csv.includes("xxx"), "the old content is gone");
});

test("filters on the command line: RFC 3339 and relative times, component, action prefix, outcome", async (t) => {
  const ev = fx.events;
  const run = async (...args: string[]): Promise<number[]> => {
    const r = await mesh(["audit", "export", "--db", fx.path, ...args]);
    t.is(r.status, 0, `${args.join(" ")}: ${r.stderr}`);
    return seqsOf(r.stdout);
  };
  const cases: [string[], number[]][] = [
    [["--since", "150m"], [5, 6]],
    [["--since", "1d"], [1, 2, 3, 4, 5, 6]],
    [["--since", ev[1].ts, "--until", ev[3].ts], [2, 3]],
    [["--until", "4h30m"], [1, 2]],
    [["--component", "proxy"], [4]],
    [["--action", "ca.rotate.*"], [3, 5]],
    [["--action", "ca.sign", "--outcome", "deny"], [2]],
    [["--outcome", "failure", "--component", "ca"], [6]],
  ];
  // Independent runs: start them together (CLI start-up dominates).
  const got = await Promise.all(cases.map(([args]) => run(...args)));
  cases.forEach(([args, want], k) => t.deepEqual(got[k], want, args.join(" ")));
});

test("exit codes: usage errors 2, a missing database 1, with one line on stderr", async (t) => {
  const cases: [string[], number, RegExp][] = [
    [["--format", "xml"], 2, /--format must be one of jsonl, csv, cef, syslog/],
    [["--since", "yesterday"], 2, /--since 'yesterday'/],
    [["--until", "2026-02-30T00:00:00Z"], 2, /--until/],
    [["--since", "1h", "--until", "2h"], 2, /earlier than --until/],
    [["--outcome", "maybe"], 2, /--outcome must be/],
    [["--action", "ca.*.sign"], 2, /--action/],
    [["--facility", "local9"], 2, /--facility/],
    [["--out", fx.path], 2, /must not be the audit database/],
  ];
  const results = await Promise.all(cases.map(([args]) => mesh(["audit", "export", "--db", fx.path, ...args])));
  for (const [k, [args, status, message]] of cases.entries()) {
    const r = results[k];
    t.is(r.status, status, `${args.join(" ")}: ${r.stderr}`);
    t.regex(r.stderr, message, args.join(" "));
    t.is(r.stdout, "", args.join(" "));
  }
  const [missing, verify] = await Promise.all([
    mesh(["audit", "export", "--db", join(fx.dir, "nope.db"), "--format", "csv"]),
    mesh(["audit", "verify", "--db", fx.path]),
  ]);
  t.is(missing.status, 1, missing.stderr);
  t.regex(missing.stderr, /^mesh: not_found: no audit log at .*nope\.db\n$/);
  // The --out target was refused, so the database is intact.
  t.is(verify.status, 0, verify.stdout);
});

test("a reader that goes away (EPIPE) ends the export quietly with exit 0", async (t) => {
  const dir = tempDirPath();
  const path = join(dir, "big.db");
  const log = AuditLog.open(path);
  for (let b = 0; b < 10; b++) {
    log.appendMany(Array.from({ length: 1000 }, (_, i) => ({ component: "proxy", action: "proxy.authz", outcome: "success" as const, details: { i, pad: "p".repeat(200) } })));
  }
  log.close();
  const runOne = async (format: string): Promise<void> => {
    const child = spawn(process.execPath, [MESH_BIN, "audit", "export", "--db", path, "--format", format], { stdio: ["ignore", "pipe", "pipe"] });
    children.push(() => child.kill("SIGKILL"));
    const exited = new Promise<ChildExit>((r) => child.on("exit", (code, signal) => r({ code, signal })));
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    let got = 0;
    await new Promise<void>((resolve) =>
      child.stdout.once("data", (d: Buffer) => {
        got = d.length;
        child.stdout.destroy(); // like `| head -1`
        resolve();
      }),
    );
    const exit = await exitWithin(exited, 30_000);
    t.true(got > 0);
    t.deepEqual(exit, { code: 0, signal: null }, `${format}: ${stderr}`);
    t.is(stderr, "", format);
  };
  await Promise.all(["jsonl", "syslog"].map(runOne));
});

test("--follow delivers an event appended after start within a second, and SIGTERM ends it with exit 0", async (t) => {
  const dir = tempDirPath();
  const path = join(dir, "follow.db");
  const log = AuditLog.open(path);
  log.append({ component: "ca", action: "ca.sign", outcome: "success", details: { n: 0 } });
  const child = spawn(process.execPath, [MESH_BIN, "audit", "export", "--db", path, "--format", "cef", "--follow", "--component", "ca"], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(() => child.kill("SIGKILL"));
  const exited = new Promise<ChildExit>((r) => child.on("exit", (code, signal) => r({ code, signal })));
  let stdout = "";
  let stderr = "";
  const arrivals: { at: number; line: string }[] = [];
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
    const lines = stdout.split("\n");
    stdout = lines.pop()!;
    for (const line of lines) arrivals.push({ at: Date.now(), line });
  });
  const waitFor = async (n: number, ms: number): Promise<void> => {
    const end = Date.now() + ms;
    while (arrivals.length < n && Date.now() < end) await sleep(10);
  };
  await waitFor(1, 20_000);
  t.is(arrivals.length, 1, `the backlog did not arrive: ${stderr}`);
  t.regex(arrivals[0].line, /cs1=1 /);

  for (let n = 1; n <= 3; n++) {
    log.append({ component: "proxy", action: "proxy.authz", outcome: "deny" }); // filtered out
    const appendedAt = Date.now();
    const ev = log.append({ component: "ca", action: "ca.sign", outcome: "success", details: { n } });
    await waitFor(n + 1, 3000);
    t.is(arrivals.length, n + 1, `event ${ev.seq} not delivered: ${stderr}`);
    const latency = arrivals[n].at - appendedAt;
    t.true(latency < 1000, `event ${ev.seq} took ${latency} ms`);
    t.regex(arrivals[n].line, new RegExp(`cs1=${ev.seq} `));
    t.log(`event ${ev.seq} delivered after ${latency} ms`);
  }
  log.close();
  child.kill("SIGTERM");
  t.deepEqual(await exitWithin(exited, 10_000), { code: 0, signal: null });
  t.is(stderr, "");
});
