/**
 * Memory and process-tree figures from /proc (Linux): a process's resident
 * set (VmRSS), its children (nginx workers under their master), and the CPU
 * of the children this process has reaped (a load generator that has exited).
 */
import { readdirSync, readFileSync } from "node:fs";

export interface Rss {
  /** VmRSS: every resident page, including file pages (the node binary, libraries) shared with other processes. */
  total: number;
  /** RssAnon: the process's own memory (heaps, stacks, buffers). */
  anon: number;
  /** Pss (smaps_rollup): resident pages with each shared page divided among the processes that map it. */
  pss: number;
}

function kbField(text: string | undefined, field: string): number {
  const m = text === undefined ? null : new RegExp(`^${field}:\\s+(\\d+)\\s+kB$`, "m").exec(text);
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

function readOr(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** Resident memory of a process in bytes (NaN when it is gone or /proc is missing). */
export function rss(pid: number): Rss {
  const status = readOr(`/proc/${pid}/status`);
  return { total: kbField(status, "VmRSS"), anon: kbField(status, "RssAnon"), pss: kbField(readOr(`/proc/${pid}/smaps_rollup`), "Pss") };
}

/** Pids whose parent is `pid` (scans /proc: the task children file is not always compiled in). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, "utf8");
      // fields after the command name: state, ppid, …
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(e));
    } catch {
      // exited while we looked
    }
  }
  return out.sort((a, b) => a - b);
}

/** User + system CPU seconds of this process's reaped children (cutime + cstime), or NaN. */
export function reapedChildrenCpuSeconds(ticksPerSecond = 100): number {
  try {
    const stat = readFileSync("/proc/self/stat", "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number);
    return (f[13]! + f[14]!) / ticksPerSecond;
  } catch {
    return Number.NaN;
  }
}

export const MB = 1024 * 1024;
