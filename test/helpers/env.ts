/** Test helpers: temp dirs, a settable clock, running openssl and the CLI. */
import { execFileSync, spawn, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export function tempDir(prefix = "mesh-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** A clock tests move by hand. */
export class TestClock {
  private ms: number;
  constructor(start = Date.UTC(2026, 10, 22, 12, 0, 0)) {
    this.ms = start;
  }
  readonly now = (): Date => new Date(this.ms);
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
  set(date: Date): void {
    this.ms = date.getTime();
  }
}

export function openssl(args: string[], input?: string | Buffer): string {
  return execFileSync("openssl", args, { input, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] });
}

/** openssl, returning status and both streams instead of throwing. */
export function opensslResult(args: string[], input?: string | Buffer): SpawnSyncReturns<string> {
  return spawnSync("openssl", args, { input, encoding: "utf8" });
}

export const MESH_BIN = resolve("dist/cli/main.js");

export function mesh(args: string[], env: Record<string, string> = {}, input?: string): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [MESH_BIN, ...args], { encoding: "utf8", input, env: { ...process.env, ...env }, timeout: 60_000 });
}

export const PASSPHRASE = "test-passphrase-123";

/** Runs a command without blocking the event loop (needed when the server under test is in this process). */
export function runAsync(cmd: string, args: string[], input = "", timeoutMs = 20_000): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
    // a child that exits before reading its input must not crash the test worker with EPIPE
    child.stdin.on("error", () => undefined);
    child.stdin.end(input);
  });
}
