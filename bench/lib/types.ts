/**
 * The contract between the runner (bench/run.ts) and each benchmark module.
 * A benchmark measures, decides pass/fail against its own goals, and returns
 * a Section; the runner prints the rows and files the markdown in RESULTS.md.
 */
import type { MachineInfo } from "./machine.js";

export interface BenchContext {
  /** Short smoke run: small counts, few runs; its figures are not results. */
  readonly quick: boolean;
  /** Absolute path of the repository (the folder holding package.json). */
  readonly repoRoot: string;
  readonly machine: MachineInfo;
  /** A fresh directory under the OS temp dir, removed after the benchmark. */
  tempDir(prefix: string): string;
  /** Runs after the benchmark ends, even when it throws or times out (last registered, first run). */
  onCleanup(fn: () => void | Promise<void>): void;
  /** Progress to stderr; stdout is kept for the table. */
  log(message: string): void;
  /** Wall-clock deadline (ms since epoch) of the whole benchmark: loops stop before it. */
  readonly deadline: number;
  /** Node.js flags for peer processes (e.g. --cpu-prof when run with --profile DIR); put them before the script. */
  readonly peerNodeFlags: readonly string[];
}

export type RowStatus = "PASS" | "FAIL" | "info";

/** One line of the stdout table. */
export interface Row {
  metric: string;
  value: string;
  goal?: string;
  status: RowStatus;
}

export interface Section {
  /** Markdown body (tables, notes) without heading or provenance: the runner adds those. */
  markdown: string;
  rows: Row[];
}

export interface Benchmark {
  /** Lowercase, [a-z0-9-]: used on the command line and in the RESULTS.md markers. */
  name: string;
  description: string;
  /** Longest the benchmark may take (ms) before the runner gives up on it. */
  budgetMs: number;
  /** Why it cannot run here (e.g. "nginx not installed"), or undefined when it can. */
  unavailable?(ctx: BenchContext): Promise<string | undefined>;
  run(ctx: BenchContext): Promise<Section>;
}

/** A goal such as "≥ 2,000 signings/s" and whether a measured value meets it. */
export interface Goal {
  op: ">=" | "<=";
  value: number;
  unit: string;
}

export function meets(goal: Goal, measured: number): boolean {
  return goal.op === ">=" ? measured >= goal.value : measured <= goal.value;
}
