/**
 * Outside tools a benchmark compares against (nginx, wrk): found on PATH (or
 * in the sbin folders root's PATH may lack), else installed from Debian's
 * packages when this runs as root with apt-get, so a fresh machine runs the
 * comparison without a manual step. Otherwise the caller says what to install.
 */
import { execFile } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

const EXTRA_DIRS = ["/usr/sbin", "/usr/local/sbin", "/sbin", "/usr/local/bin", "/usr/bin"];

/** Absolute path of an executable, or undefined. */
export function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter).filter((d) => d !== ""), ...EXTRA_DIRS];
  for (const dir of dirs) {
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface ToolResult {
  path?: string;
  /** Why it is missing (what to install), when path is undefined. */
  why?: string;
  /** True when this call installed it. */
  installed?: boolean;
}

/** True when this runs as root with apt-get at hand. */
export const canApt = (): boolean => process.getuid?.() === 0 && findExecutable("apt-get") !== undefined;

/** apt-get install of `pkgs`; undefined on success, else the last lines of apt-get's complaint. */
export async function aptInstall(pkgs: readonly string[], log: (m: string) => void): Promise<string | undefined> {
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const opts = { env, timeout: 5 * 60_000, maxBuffer: 16 * 1024 * 1024 };
  const install = () => run("apt-get", ["install", "-y", "--no-install-recommends", ...pkgs], opts);
  try {
    await install();
    return undefined;
  } catch {
    // most often the package lists are missing or stale: refresh them once and try again
    log("apt-get install failed; running apt-get update and trying again");
    try {
      await run("apt-get", ["update"], opts);
      await install();
      return undefined;
    } catch (err) {
      const e = err as { stderr?: string; message?: string };
      return (e.stderr ?? e.message ?? String(err)).trim().split("\n").slice(-3).join(" ");
    }
  }
}

/** Finds `binary`, installing Debian package `pkg` first when it is missing and we may. */
export async function ensureDebianTool(binary: string, pkg: string, log: (m: string) => void): Promise<ToolResult> {
  const found = findExecutable(binary);
  if (found) return { path: found };
  if (!canApt()) return { why: `${binary} is not installed (Debian/Ubuntu: apt-get install ${pkg})` };
  log(`${binary} not found: apt-get install -y ${pkg}`);
  const failure = await aptInstall([pkg], log);
  const after = findExecutable(binary);
  if (after) return { path: after, installed: true };
  return { why: `${binary} is not installed and apt-get install ${pkg} failed: ${failure ?? "binary still not found"}` };
}
