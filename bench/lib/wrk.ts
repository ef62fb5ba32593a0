/**
 * wrk (the C HTTP load generator) as a child process: fixed connections and
 * duration, its figures parsed from the text it prints. Its CPU is read from
 * this process's reaped-children counters, so it must be the only child
 * that exits while it runs.
 */
import { spawn } from "node:child_process";
import { reapedChildrenCpuSeconds } from "./proc-status.js";

export interface WrkResult {
  requests: number;
  seconds: number;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  socketErrors: number;
  non2xx: number;
  /** CPU seconds wrk used (user + system). */
  cpuSeconds: number;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function durationMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  return m ? Number(m[1]) * UNIT_MS[m[2]!]! : Number.NaN;
}

/** Parses wrk's report (run with --latency). Throws when the totals are missing. */
export function parseWrk(out: string): Omit<WrkResult, "cpuSeconds"> {
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m),/.exec(out);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!total || !rps) throw new Error(`unexpected wrk output: ${out.trim().slice(0, 400)}`);
  const pct = (p: string) => durationMs(new RegExp(`^\\s+${p}%\\s+(\\S+)$`, "m").exec(out)?.[1] ?? "");
  const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    requests: Number(total[1]),
    seconds: durationMs(`${total[2]}${total[3]}`) / 1000,
    reqPerSec: Number(rps[1]),
    p50Ms: pct("50"),
    p99Ms: pct("99"),
    socketErrors: se ? Number(se[1]) + Number(se[2]) + Number(se[3]) + Number(se[4]) : 0,
    non2xx: Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0),
  };
}

export interface WrkOptions {
  url: string;
  connections: number;
  threads: number;
  durationS: number;
  /** Extra request headers. */
  headers?: Readonly<Record<string, string>>;
  /** A Lua script and its arguments. */
  script?: { file: string; args: readonly string[] };
  /** Pin wrk to these CPUs (taskset -c). */
  cpus?: string;
}

/** Runs wrk once; `track` gets a function that kills it, for the caller's cleanup list. `stdout` is wrk's own output (scripts may print there). */
export function runWrk(bin: string, o: WrkOptions, track?: (kill: () => void) => void): Promise<WrkResult & { stdout: string }> {
  const args = ["-t", String(o.threads), "-c", String(o.connections), "-d", `${o.durationS}s`, "--latency", "--timeout", "10s"];
  for (const [k, v] of Object.entries(o.headers ?? {})) args.push("-H", `${k}: ${v}`);
  if (o.script) args.push("-s", o.script.file);
  args.push(o.url, ...(o.script?.args ?? []));
  const cpu0 = reapedChildrenCpuSeconds();
  return new Promise((resolve, reject) => {
    const [cmd, argv] = o.cpus ? ["taskset", ["-c", o.cpus, bin, ...args]] : [bin, args];
    const child = spawn(cmd, argv, { stdio: ["ignore", "pipe", "pipe"] });
    let exited = false;
    track?.(() => {
      if (!exited) child.kill("SIGKILL");
    });
    let out = "";
    let err = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString("utf8")));
    child.stderr!.on("data", (d: Buffer) => (err = (err + d.toString("utf8")).slice(-2000)));
    // wrk stops itself after the duration; this only guards against a hang
    const timer = setTimeout(() => child.kill("SIGKILL"), (o.durationS + 60) * 1000);
    child.once("error", (e) => {
      exited = true;
      clearTimeout(timer);
      reject(e);
    });
    child.once("close", (code, signal) => {
      exited = true;
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`wrk exited with ${code ?? signal}: ${err.trim() || out.trim().slice(0, 400)}`));
        return;
      }
      try {
        resolve({ ...parseWrk(out), cpuSeconds: reapedChildrenCpuSeconds() - cpu0, stdout: out });
      } catch (e) {
        reject(e as Error);
      }
    });
  });
}
