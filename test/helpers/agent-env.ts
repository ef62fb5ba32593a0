/**
 * Helpers for end-to-end tests of `mesh agent`: a CA served as a child
 * process, the agent as another child, SDS clients in the test process, the
 * admin endpoint, and bounded waits. Every child is killed by `cleanUp`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { get } from "node:http";
import { join } from "node:path";
import { stringify as toYaml } from "yaml";
import { SdsClient } from "../../sds-server/client.js";
import type { WorkloadSecrets } from "../../sds-server/protocol.js";
import { MESH_BIN } from "./env.js";
import { mesh, ok, okJson, pemBlocks, sleep, startCaServe, type ChildExit, type ServedCa } from "./mesh-cli.js";

export const TD = "example.org";
export const idOf = (workload: string): string => `spiffe://${TD}/ns/e2e/sa/${workload}`;

/** Polls cond (sync or async) every intervalMs until it returns something other than undefined/false, at most timeoutMs. */
export async function waitFor<T>(cond: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number, what: string, intervalMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v !== undefined && v !== false) return v;
    if (Date.now() >= end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

export interface CaFixture {
  dir: string;
  caDir: string;
  bundleFile: string;
  bundlePem: string;
  tokenFile: string;
  server: ServedCa;
  /** Entry ids by workload name. */
  entryIds: Map<string, string>;
}

export interface CaOptions {
  workloads: string[];
  /** e.g. "20s"; CA default otherwise. */
  leafTtl?: string;
  nodeTtl?: string;
}

/** Tracks children so a test's teardown can kill them all. */
export class Children {
  private readonly list: ChildProcess[] = [];
  add(c: ChildProcess): void {
    this.list.push(c);
  }
  killAll(): void {
    for (const c of this.list) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  }
}

/** A CA with an entry per workload on node n1, a join token for n1 in a file, the bundle, and `mesh ca serve` running. */
export async function setUpCa(dir: string, children: Children, o: CaOptions): Promise<CaFixture> {
  mkdirSync(dir, { recursive: true });
  const caDir = join(dir, "ca");
  const init = ["ca", "init", "--dir", caDir, "--trust-domain", TD];
  if (o.leafTtl) init.push("--leaf-ttl", o.leafTtl);
  if (o.nodeTtl) init.push("--node-ttl", o.nodeTtl);
  ok(await mesh(init), "ca init");
  const entryIds = new Map<string, string>();
  for (const w of o.workloads) entryIds.set(w, await createEntry(caDir, w));
  const token = okJson<{ token: string }>(await mesh(["ca", "token", "create", "--dir", caDir, "--node", "n1", "--json"]), "token create").token;
  const tokenFile = join(dir, "token");
  writeFileSync(tokenFile, token + "\n", { mode: 0o600 });
  const bundlePem = ok(await mesh(["ca", "bundle", "--dir", caDir]), "ca bundle").stdout;
  const bundleFile = join(dir, "bundle.pem");
  writeFileSync(bundleFile, bundlePem);
  const server = await startCaServe(caDir, join(dir, "ca-ready.json"));
  children.add(server.child);
  return { dir, caDir, bundleFile, bundlePem, tokenFile, server, entryIds };
}

export async function createEntry(caDir: string, workload: string): Promise<string> {
  return okJson<{ id: string }>(await mesh(["ca", "entry", "create", "--dir", caDir, "--spiffe-id", idOf(workload), "--node", "n1", "--workload", workload, "--json"]), "entry create").id;
}

/** Stops the CA with SIGTERM and waits (bounded) for it to exit. */
export async function stopCa(fx: CaFixture): Promise<void> {
  if (fx.server.child.exitCode !== null || fx.server.child.signalCode !== null) return;
  fx.server.child.kill("SIGTERM");
  await Promise.race([fx.server.exited, sleep(10_000)]);
}

/** Serves the same CA directory again on the port it had, so the agent's URL stays valid. */
export async function restartCa(fx: CaFixture, children: Children): Promise<void> {
  const port = fx.server.port;
  fx.server = await startCaServe(fx.caDir, join(fx.dir, `ca-ready-${Date.now()}.json`), ["--listen", `127.0.0.1:${port}`]);
  children.add(fx.server.child);
  if (fx.server.port !== port) throw new Error(`CA came back on port ${fx.server.port}, expected ${port}`);
}

export interface RunningAgent {
  child: ChildProcess;
  adminPort: number;
  sdsDir: string;
  dataDir: string;
  exited: Promise<ChildExit>;
  log(): string;
}

export interface AgentOptions {
  /** Pass --join-token-file (default true). */
  token?: boolean;
  /** Written as YAML and passed with --config. */
  config?: Record<string, unknown>;
  timeoutMs?: number;
}

function agentEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("MESH_")) env[k] = v;
  return env;
}

/** Starts `mesh agent` and waits (bounded) for its ready file to name its own pid and admin port. */
export async function startAgent(fx: CaFixture, children: Children, o: AgentOptions = {}): Promise<RunningAgent> {
  const dataDir = join(fx.dir, "data");
  const sdsDir = join(fx.dir, "sds");
  const readyFile = join(fx.dir, `agent-ready-${Date.now()}.json`);
  const args = [MESH_BIN, "agent", "--ca-url", fx.server.url, "--ca-bundle", fx.bundleFile, "--node", "n1", "--data-dir", dataDir, "--sds-dir", sdsDir];
  args.push("--admin-listen", "127.0.0.1:0", "--ready-file", readyFile, "--poll-interval", "1s", "--log-level", "info");
  if (o.token ?? true) args.push("--join-token-file", fx.tokenFile);
  if (o.config) {
    const cfgFile = join(fx.dir, "agent.yaml");
    writeFileSync(cfgFile, toYaml(o.config));
    args.push("--config", cfgFile);
  }
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env: agentEnv() });
  children.add(child);
  let log = "";
  child.stdout!.on("data", (d: Buffer) => (log += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (log += d.toString()));
  const exited = new Promise<ChildExit>((r) => child.on("exit", (code, signal) => r({ code, signal })));
  const ready = await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`mesh agent exited (${child.exitCode}) before it was ready: ${log}`);
      try {
        const v = JSON.parse(readFileSync(readyFile, "utf8")) as { admin_port?: unknown; pid?: unknown };
        return v.pid === child.pid && typeof v.admin_port === "number" ? v.admin_port : undefined;
      } catch {
        return undefined;
      }
    },
    o.timeoutMs ?? 20_000,
    "the agent's ready file",
  ).catch((err: Error) => {
    child.kill("SIGKILL");
    throw new Error(`${err.message}: ${log}`);
  });
  return { child, adminPort: ready, sdsDir, dataDir, exited, log: () => log };
}

/** GET on the agent's admin endpoint. */
export function adminGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get({ host: "127.0.0.1", port, path, timeout: 5000 }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error("admin request timed out")));
    req.on("error", reject);
  });
}

/** The value of one Prometheus sample whose labels include all of `labels`, or undefined. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name + "{") && !line.startsWith(name + " ")) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return undefined;
}

/** Sum over every sample of a metric (all label sets). */
export function metricSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split("\n")) if (line.startsWith(name + "{") || line.startsWith(name + " ")) sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  return sum;
}

export interface Received {
  at: number;
  secrets: WorkloadSecrets;
}

/** An SDS client in this process that records every update with its arrival time. */
export function watchSds(socketPath: string, appToken?: string): { client: SdsClient; updates: Received[]; disconnects: number[] } {
  const client = new SdsClient({ socketPath, appToken, backoff: { initialMs: 100, maxMs: 1000 } });
  const updates: Received[] = [];
  const disconnects: number[] = [];
  client.on("update", (secrets) => updates.push({ at: Date.now(), secrets }));
  client.on("disconnected", (d) => disconnects.push(d.code));
  client.on("error", () => undefined);
  client.start();
  return { client, updates, disconnects };
}

/** The leaf certificate of the `default` secret, if there is one. */
export function leafOf(s: WorkloadSecrets | undefined): X509Certificate | undefined {
  const chain = s?.default?.certificateChainPem;
  if (!chain) return undefined;
  const first = pemBlocks(chain)[0];
  return first ? new X509Certificate(first) : undefined;
}
