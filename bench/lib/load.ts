/**
 * Other work on the machine skews every figure. This measures it: CPU used
 * machine-wide (/proc/stat) minus CPU used by this process and the children
 * it has reaped (/proc/self/stat), over the length of a benchmark.
 */
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

const TICKS = 100; // USER_HZ; both files count in the same ticks, so only the ratio matters

interface Sample {
  at: number;
  /** Busy ticks of all CPUs (user, nice, system, irq, softirq, steal). */
  busy: number;
  /** Ticks of this process plus its reaped children. */
  own: number;
}

function sample(): Sample | undefined {
  try {
    const cpu = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal …
    const busy = cpu[0]! + cpu[1]! + cpu[2]! + cpu[5]! + cpu[6]! + (cpu[7] ?? 0);
    const stat = readFileSync("/proc/self/stat", "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number);
    // utime stime cutime cstime are fields 14-17, i.e. 11-14 after the command name
    const own = f[11]! + f[12]! + f[13]! + f[14]!;
    return { at: Date.now(), busy, own };
  } catch {
    return undefined; // not Linux: no figure, no warning
  }
}

export interface LoadWindow {
  /** CPU cores used on average by other processes since start(); undefined when unknown. */
  stop(): number | undefined;
}

export function startLoadWindow(): LoadWindow {
  const a = sample();
  return {
    stop: () => {
      const b = sample();
      if (!a || !b || b.at <= a.at) return undefined;
      const other = Math.max(0, b.busy - a.busy - (b.own - a.own)) / TICKS;
      return other / ((b.at - a.at) / 1000);
    },
  };
}

/** Cores used by other processes over the next `ms`. */
export async function otherLoad(ms = 1000): Promise<number | undefined> {
  const w = startLoadWindow();
  await sleep(ms);
  return w.stop();
}

/**
 * Waits (at most maxMs) until other processes used less than `threshold`
 * cores in three 2 s windows in a row. Returns the last measured load.
 */
export async function waitForQuiet(threshold: number, maxMs: number, log: (m: string) => void): Promise<number | undefined> {
  const until = Date.now() + maxMs;
  let quiet = 0;
  let loggedAt = 0;
  for (;;) {
    const load = await otherLoad(2000);
    if (load === undefined) return undefined;
    quiet = load < threshold ? quiet + 1 : 0;
    if (quiet >= 3 || Date.now() >= until) return load;
    if (quiet === 0 && Date.now() - loggedAt > 30_000) {
      log(`machine busy (other processes use ${load.toFixed(2)} cores): waiting`);
      loggedAt = Date.now();
    }
  }
}
