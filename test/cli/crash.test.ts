/**
 * Crash safety of `mesh ca serve` (kill -9 in the middle of a stream of
 * signings: every certificate handed out is on record, the store and the
 * audit chain are intact), and `mesh audit verify` catching an edited row.
 */
import test from "ava";
import Database from "better-sqlite3";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { APPEND_ONLY_TRIGGERS } from "../../audit/schema.js";
import { removeDir, tempDir } from "../helpers/env.js";
import { attestNode, exitWithin, makeCsr, mesh, ok, okJson, startCaServe, type ChildExit, type ServedCa } from "../helpers/mesh-cli.js";

const SIGN_LOOP = fileURLToPath(new URL("../helpers/sign-loop.js", import.meta.url));
const root = tempDir("mesh-crash-");
const servers: ServedCa[] = [];
const killers: (() => void)[] = [];
test.after.always(() => {
  for (const s of servers) s.child.kill("SIGKILL");
  for (const k of killers) k();
  removeDir(root);
});
const TD = "example.org";
const WEB = `spiffe://${TD}/ns/crash/sa/web`;
/** Signings received before the server is killed. */
const KILL_AFTER = 40;

test("kill -9 during a stream of signings: every serial handed out is on record and the audit chain verifies", async (t) => {
  const dir = join(root, "ca");
  ok(await mesh(["ca", "init", "--dir", dir, "--trust-domain", TD]), "ca init");
  ok(await mesh(["ca", "entry", "create", "--dir", dir, "--spiffe-id", WEB, "--node", "n1", "--workload", "web"]), "entry create");
  const token = okJson<{ token: string }>(await mesh(["ca", "token", "create", "--dir", dir, "--node", "n1", "--json"])).token;
  const bundle = join(dir, "bundle.pem");
  writeFileSync(bundle, ok(await mesh(["ca", "bundle", "--dir", dir])).stdout);
  const server = await startCaServe(dir, join(dir, "ready.json"), ["--sign-rate", "100000", "--sign-burst", "100000"]);
  servers.push(server);
  const node = await attestNode(`https://localhost:${server.port}`, bundle, token, dir, "node");
  const { csrFile } = await makeCsr(dir, "workload");

  const loop = spawn(process.execPath, [SIGN_LOOP, "--url", `https://127.0.0.1:${server.port}`, "--ca", bundle, "--cert", node.certFile, "--key", node.keyFile, "--spiffe-id", WEB, "--csr", csrFile, "--concurrency", "4"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  killers.push(() => loop.kill("SIGKILL"));
  const loopExited = new Promise<ChildExit>((r) => loop.on("exit", (code, signal) => r({ code, signal })));
  const received: string[] = [];
  let loopLog = "";
  let pending = "";
  let killed = false;
  loop.stderr.on("data", (d: Buffer) => (loopLog += d.toString()));
  loop.stdout.on("data", (d: Buffer) => {
    pending += d.toString();
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const l of lines) {
      const m = /^serial ([0-9a-f]+)$/.exec(l);
      if (m) received.push(m[1]!);
    }
    if (!killed && received.length >= KILL_AFTER) {
      killed = true;
      server.child.kill("SIGKILL");
    }
  });

  const serverExit = await exitWithin(server.exited, 20_000);
  t.deepEqual(serverExit, { code: null, signal: "SIGKILL" }, `server ended on its own or not at all; loop: ${loopLog}`);
  const loopExit = await exitWithin(loopExited, 15_000);
  t.is(loopExit?.code, 0, loopLog);
  t.true(received.length >= KILL_AFTER, `only ${received.length} signings before the crash`);
  t.regex(loopLog, /worker \d+: /, "the stream was cut by the crash, not finished");

  // the store opens; every certificate a client received is recorded
  const list = await mesh(["ca", "list", "--dir", dir, "--json", "--all"]);
  t.is(list.status, 0, list.stderr);
  const recorded = new Set((JSON.parse(list.stdout) as { certificates: { serial: string }[] }).certificates.map((c) => c.serial));
  const missing = received.filter((s) => !recorded.has(s));
  t.deepEqual(missing, [], `${missing.length} of ${received.length} handed-out certificates are not on record`);
  t.true(recorded.has(node.svid.serial));
  t.log(`${received.length} certificates received before the crash, ${recorded.size} on record`);

  // the audit chain survived the crash, and the CA keeps working
  const verify = await mesh(["audit", "verify", "--db", join(dir, "audit.db")]);
  t.is(verify.status, 0, verify.stdout + verify.stderr);
  t.regex(verify.stdout, /^ok: \d+ events, chain intact/);
  const count = Number(/^ok: (\d+) events/.exec(verify.stdout)?.[1]);
  t.true(count >= received.length, `${count} audit events for ${received.length} signings`);
  const after = await mesh(["ca", "issue", "--dir", dir, "--spiffe-id", WEB, "--out-dir", join(root, "after")]);
  t.is(after.status, 0, after.stderr);
});

test("mesh audit verify names the first bad seq of a tampered copy and exits 1", async (t) => {
  const dir = join(root, "tamper");
  ok(await mesh(["ca", "init", "--dir", dir, "--trust-domain", TD]), "ca init");
  for (const sa of ["a", "b", "c"]) ok(await mesh(["ca", "issue", "--dir", dir, "--spiffe-id", `spiffe://${TD}/ns/t/sa/${sa}`, "--out-dir", join(root, `t-${sa}`)]), "ca issue");
  const original = join(dir, "audit.db");
  const intact = await mesh(["audit", "verify", "--db", original, "--json"]);
  t.is(intact.status, 0, intact.stdout + intact.stderr);
  const good = JSON.parse(intact.stdout) as { ok: boolean; count: number };
  t.true(good.ok);
  t.true(good.count >= 4);

  // a consistent copy (the live file may have part of its data in the WAL)
  const copy = join(root, "tampered.db");
  const src = new Database(original, { readonly: true });
  await src.backup(copy);
  src.close();
  const db = new Database(copy);
  const editing = () => db.prepare("UPDATE events SET outcome = 'deny' WHERE seq = 3").run();
  t.throws(editing, { any: true, message: /append-only/ }, "the trigger refuses edits");
  for (const trigger of APPEND_ONLY_TRIGGERS) db.exec(`DROP TRIGGER ${trigger}`);
  t.is(editing().changes, 1);
  db.close();

  // the copy is checked against the original's trusted keys (the writer signs checkpoints with <db>.key)
  const keys = ["--keys", `${original}.keys`];
  const human = await mesh(["audit", "verify", "--db", copy, ...keys]);
  t.is(human.status, 1);
  t.regex(human.stdout, /^TAMPERED: first bad seq 3: /);
  const json = await mesh(["audit", "verify", "--db", copy, "--json", ...keys]);
  t.is(json.status, 1);
  t.like(JSON.parse(json.stdout), { ok: false, firstBadSeq: 3, count: 2 });
  // the original is untouched and still verifies
  t.is((await mesh(["audit", "verify", "--db", original])).status, 0);

  const missing = await mesh(["audit", "verify", "--db", join(root, "no-such.db")]);
  t.is(missing.status, 1, "a missing database is an error, not a usage error (as in export)");
  t.regex(missing.stderr, /^mesh: not_found: no audit log at .*no-such\.db\n$/);
});
