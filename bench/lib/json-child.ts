/**
 * A one-shot Node.js child that takes its job as a JSON argument and prints
 * JSON lines: optional `{"event": NAME}` lines while it works (e.g. "the
 * warm-up is over, measuring now"), then its result as the last line.
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { reapedChildrenCpuSeconds } from "./proc-status.js";

export interface JsonChildOptions {
  script: string;
  job: unknown;
  /** The child is killed after this long. */
  timeoutMs: number;
  /** Called for each `{"event": …}` line, when it arrives. */
  onEvent?: (event: string) => void;
  /** Called with a function that kills the child, so the caller can register it for cleanup. */
  track?: (kill: () => void) => void;
}

export interface JsonChildResult<T> {
  result: T;
  /** CPU seconds the child used (user + system), from this process's reaped-children counters. */
  cpuSeconds: number;
  wallMs: number;
}

export function runJsonChild<T>(o: JsonChildOptions): Promise<JsonChildResult<T>> {
  const cpu0 = reapedChildrenCpuSeconds();
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [o.script, JSON.stringify(o.job)], { stdio: ["ignore", "pipe", "pipe"] });
    let done = false;
    const kill = (): void => {
      if (!done) child.kill("SIGKILL");
    };
    o.track?.(kill);
    let result: T | undefined;
    let err = "";
    child.stderr!.on("data", (d: Buffer) => (err = (err + d.toString("utf8")).slice(-2000)));
    createInterface({ input: child.stdout! }).on("line", (line) => {
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch {
        return; // not ours: ignore stray output
      }
      if (v && typeof v === "object" && "event" in v && typeof v.event === "string") o.onEvent?.(v.event);
      else result = v as T;
    });
    const timer = setTimeout(kill, o.timeoutMs);
    child.once("error", (e) => {
      clearTimeout(timer);
      done = true;
      reject(e);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      done = true;
      if (code !== 0 || result === undefined) {
        reject(new Error(`${o.script} exited with ${code ?? signal}${result === undefined ? " without a result" : ""}: ${err.trim().slice(-600)}`));
        return;
      }
      resolve({ result, cpuSeconds: reapedChildrenCpuSeconds() - cpu0, wallMs: Date.now() - t0 });
    });
  });
}
