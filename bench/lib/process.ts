/**
 * Peers in child processes: start one, wait for its ready file, read how much
 * CPU it used, stop it (by its own pid only). Optional pinning to CPUs with
 * taskset, so "one core for the server" is a fact and not a hope.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

let clockTicks: number | undefined;

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ). */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** User + system CPU seconds of a process and all its threads (Linux), or NaN. */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // the command name may hold spaces and parentheses: fields start after the last ')'
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond();
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds used by this process so far (all threads). */
export function selfCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

export function hasTaskset(): boolean {
  try {
    execFileSync("taskset", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** The CPUs this process may run on ("0-3,6" → [0,1,2,3,6]), or undefined without taskset. */
export function allowedCpus(): number[] | undefined {
  if (!hasTaskset()) return undefined;
  try {
    const list = execFileSync("taskset", ["-c", "-p", String(process.pid)], { encoding: "utf8" }).trim().split(/\s+/).pop() ?? "";
    const cpus: number[] = [];
    for (const part of list.split(",")) {
      const [a, b] = part.split("-").map(Number);
      if (!Number.isInteger(a)) return undefined;
      for (let c = a!; c <= (Number.isInteger(b) ? b! : a!); c++) cpus.push(c);
    }
    return cpus;
  } catch {
    return undefined;
  }
}

/**
 * The last allowed CPU for the process under test, the others for its
 * clients (taskset lists), or undefined without taskset or with one CPU.
 */
export function splitCpus(): { target: string; clients: string } | undefined {
  const cpus = allowedCpus();
  return cpus !== undefined && cpus.length >= 2 ? { target: String(cpus[cpus.length - 1]), clients: cpus.slice(0, -1).join(",") } : undefined;
}

/** Pins a running process and all its threads (taskset -a -p); false when it is gone or taskset refused. */
export function pinProcess(pid: number, cpuList: string): boolean {
  try {
    execFileSync("taskset", ["-a", "-p", "-c", cpuList, String(pid)], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/**
 * Pins every thread of this process to the given CPU list ("0") and returns a
 * function that restores the previous mask, or undefined when pinning failed.
 */
export function pinSelf(cpuList: string): (() => void) | undefined {
  const pid = String(process.pid);
  let before: string | undefined;
  try {
    before = execFileSync("taskset", ["-p", pid], { encoding: "utf8" }).trim().split(/\s+/).pop();
  } catch {
    return undefined;
  }
  if (!pinProcess(process.pid, cpuList)) return undefined;
  return () => {
    if (before) execFileSync("taskset", ["-a", "-p", before, pid], { stdio: "ignore" });
  };
}

export interface PeerProcess {
  pid: number;
  /** The parsed ready file. */
  ready: unknown;
  cpuSeconds(): number;
  /** Last few KB of its stderr, for error messages. */
  stderrTail(): string;
  /** SIGTERM, then SIGKILL after graceMs. Resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface StartPeerOptions {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** The peer writes this file (JSON) once it listens. */
  readyFile: string;
  readyTimeoutMs: number;
  /** Run under `taskset -c LIST` when taskset exists. */
  cpuList?: string;
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once("exit", () => resolve()));
}

export async function startPeer(opts: StartPeerOptions): Promise<PeerProcess> {
  const pinned = opts.cpuList !== undefined && hasTaskset();
  const [cmd, args] = pinned ? ["taskset", ["-c", opts.cpuList!, opts.command, ...opts.args]] : [opts.command, opts.args];
  const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString("utf8")).slice(-4096);
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${opts.command}`);

  const stop = async (graceMs = 5000): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = exited(child);
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await gone;
    clearTimeout(timer);
  };

  const deadline = Date.now() + opts.readyTimeoutMs;
  let ready: unknown;
  while (ready === undefined) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${opts.command} exited (${child.exitCode ?? child.signalCode}) before it was ready: ${stderr.trim().slice(-800)}`);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${opts.command} was not ready after ${opts.readyTimeoutMs} ms: ${stderr.trim().slice(-800)}`);
    }
    if (existsSync(opts.readyFile)) {
      try {
        ready = JSON.parse(readFileSync(opts.readyFile, "utf8")) as unknown;
      } catch {
        // written but not complete yet: read again next round
      }
    }
    if (ready === undefined) await sleep(25);
  }
  return { pid, ready, cpuSeconds: () => processCpuSeconds(pid), stderrTail: () => stderr, stop };
}
