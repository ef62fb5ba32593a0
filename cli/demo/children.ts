/**
 * Child processes of the demo mesh: started with the same Node.js and CLI,
 * waited for through a ready file (bounded), logs to a file each, stopped
 * with SIGTERM (then SIGKILL after a grace period) in reverse start order.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, openSync, readFileSync, closeSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";

const CLI = fileURLToPath(new URL("../main.js", import.meta.url));

export interface Child {
  name: string;
  proc: ChildProcess;
  log: string;
}

/**
 * Node flags for long-running mesh processes: a small young generation and
 * few malloc arenas keep a sidecar's memory near its working set (the
 * defaults reserve tens of MB it never needs); docs/proxy.md explains.
 */
export const LEAN_NODE_FLAGS = ["--max-semi-space-size=2"];
export const LEAN_ENV = { MALLOC_ARENA_MAX: "2" };

export function spawnMesh(name: string, args: string[], logFile: string): Child {
  const fd = openSync(logFile, "a", 0o600);
  const proc = spawn(process.execPath, [...LEAN_NODE_FLAGS, CLI, ...args], { stdio: ["ignore", fd, fd], env: { ...LEAN_ENV, ...process.env, MESH_EXIT_WITH_PARENT: String(process.pid) } });
  closeSync(fd);
  return { name, proc, log: logFile };
}

/** Waits until `file` exists and parses as JSON, or the child exits, or the time is up. */
export async function waitReady<T>(c: Child, file: string, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (c.proc.exitCode !== null || c.proc.signalCode !== null) {
      throw new Error(`${c.name} exited (${c.proc.exitCode ?? c.proc.signalCode}) before it was ready; see ${c.log}`);
    }
    if (existsSync(file)) {
      try {
        return JSON.parse(readFileSync(file, "utf8")) as T;
      } catch {
        /* half written: try again */
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${c.name} not ready within ${timeoutMs} ms; see ${c.log}`);
}

export async function stopAll(children: Child[], graceMs = 8000): Promise<void> {
  for (const c of [...children].reverse()) {
    if (c.proc.exitCode !== null || c.proc.signalCode !== null) continue;
    const exited = new Promise<void>((r) => c.proc.once("exit", () => r()));
    c.proc.kill("SIGTERM");
    const t = setTimeout(() => c.proc.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(t);
  }
}

/** `n` distinct free loopback ports (all held open together, then released). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<import("node:net").Server>((resolve, reject) => {
      const s = createServer();
      s.once("error", reject);
      s.listen(0, "127.0.0.1", () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports;
}
