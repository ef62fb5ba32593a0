import test from "ava";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { MESH_BIN, removeDir, runAsync, tempDir } from "../helpers/env.js";

async function waitFor(path: string, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (existsSync(path)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

test("mesh up starts the CA with the demo registrations, writes up.json, and stops cleanly on SIGTERM", async (t) => {
  const dir = tempDir();
  t.teardown(() => removeDir(dir));
  const env = { ...process.env };
  delete env.MESH_CA_PASSPHRASE;
  const child = spawn(process.execPath, [MESH_BIN, "up", "--dir", dir, "--log-level", "warn"], { env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  t.teardown(() => child.kill("SIGKILL"));
  t.true(await waitFor(join(dir, "up.json"), 60_000), "up.json written");
  const up = JSON.parse(readFileSync(join(dir, "up.json"), "utf8")) as { trust_domain: string; ca_dir: string; ca_url: string; ca_bundle: string; audit_db: string };
  t.is(up.trust_domain, "demo.mesh");
  t.is(statSync(join(dir, "ca-passphrase")).mode & 0o777, 0o600);
  t.is(statSync(join(dir, "agent", "join-token")).mode & 0o777, 0o600);
  const port = new URL(up.ca_url).port;
  const bundle = await runAsync("curl", ["-sS", "--max-time", "10", "--cacert", up.ca_bundle, `https://localhost:${port}/v1/bundle?format=spiffe`]);
  t.is(bundle.status, 0, bundle.stderr);
  t.is((JSON.parse(bundle.stdout) as { keys: unknown[] }).keys.length, 1);
  const list = await runAsync(process.execPath, [MESH_BIN, "ca", "entry", "list", "--dir", up.ca_dir, "--json", "--passphrase-file", join(dir, "ca-passphrase")]);
  t.is(list.status, 0, list.stderr);
  t.deepEqual((JSON.parse(list.stdout) as { workload: string }[]).map((e) => e.workload).sort(), ["backend", "frontend", "ingress"]);
  t.regex(stdout, /demo mesh running/);
  t.is(statSync(join(dir, "demo-credentials.json")).mode & 0o777, 0o600);
  child.kill("SIGTERM");
  t.is(await exited, 0);
  const verify = await runAsync(process.execPath, [MESH_BIN, "audit", "verify", "--db", up.audit_db]);
  t.is(verify.status, 0, verify.stdout + verify.stderr);
});
