/**
 * The demo mesh as a user starts it: `mesh up` (CA, agent, two apps, three
 * proxies as child processes), a request through ingress → frontend →
 * backend over mTLS, a refused certificate-less caller, and a clean SIGTERM
 * that leaves no process behind.
 */
import test from "ava";
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { MESH_BIN, removeDir, tempDir } from "../helpers/env.js";
import { curlHttp, curlTls, terminate, waitFor, type ChildExit } from "../helpers/proxy-env.js";

interface UpJson {
  ingress_url: string;
  backend_inbound: string;
  frontend_inbound: string;
  identities: Record<string, string>;
  admin: Record<string, string>;
  pid: number;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test("mesh up: ingress → frontend → backend over mTLS, refuses callers without a certificate, stops cleanly", async (t) => {
  const dir = tempDir("mesh-demo-e2e-");
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("MESH_")) env[k] = v;
  const child = spawn(process.execPath, [MESH_BIN, "up", "--dir", dir, "--log-level", "warn"], { env, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stdout.on("data", (d: Buffer) => (log += d.toString()));
  child.stderr.on("data", (d: Buffer) => (log += d.toString()));
  const exited = new Promise<ChildExit>((r) => child.on("exit", (code, signal) => r({ code, signal })));
  let childPids: number[] = [];
  t.teardown(() => {
    child.kill("SIGKILL");
    for (const pid of childPids) if (alive(pid)) process.kill(pid, "SIGKILL");
    removeDir(dir);
  });

  const up = await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`mesh up exited (${child.exitCode}): ${log}`);
      try {
        return JSON.parse(readFileSync(join(dir, "up.json"), "utf8")) as UpJson;
      } catch {
        return undefined;
      }
    },
    45_000,
    "up.json",
  );
  const runDir = join(dir, "run");
  childPids = readdirSync(runDir)
    .filter((f) => f.endsWith(".json"))
    .map((f) => (JSON.parse(readFileSync(join(runDir, f), "utf8")) as { pid: number }).pid);
  t.is(childPids.length, 6, `run files: ${readdirSync(runDir).join(", ")}`);
  t.true(childPids.every(alive));

  const r = await curlHttp(`${up.ingress_url}/`);
  t.is(r.status, 200, r.stderr + r.body);
  const body = JSON.parse(r.body) as { service: string; caller: string; backend: { service: string; caller: string } };
  t.is(body.service, "frontend");
  t.is(body.caller, "spiffe://demo.mesh/ns/demo/sa/ingress");
  t.is(body.backend.service, "backend");
  t.is(body.backend.caller, "spiffe://demo.mesh/ns/demo/sa/frontend");

  const [host, port] = [up.backend_inbound.slice(0, up.backend_inbound.lastIndexOf(":")), Number(up.backend_inbound.slice(up.backend_inbound.lastIndexOf(":") + 1))];
  const noCert = await curlTls({ host, port }, "/");
  t.not(noCert.exit, 0);
  t.is(noCert.status, 0);

  const exit = await terminate({ child, exited }, 15_000);
  t.deepEqual(exit, { code: 0, signal: null }, log);
  await waitFor(() => childPids.every((pid) => !alive(pid)), 2000, "every demo child to be gone").catch(() => undefined);
  t.deepEqual(childPids.filter(alive), [], "no demo child outlives mesh up");
});
