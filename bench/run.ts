/**
 * `node dist/bench/run.js [names…] [--quick] [--out FILE] [--no-write] [--strict] [--list]`
 * Runs the selected benchmarks (default all), prints a table, and rewrites
 * bench/RESULTS.md keeping the sections of benchmarks not run this time.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startLoadWindow, waitForQuiet } from "./lib/load.js";
import { describeMachine, machineInfo, type MachineInfo } from "./lib/machine.js";
import { readSections, renderResults, writeResults } from "./lib/results-file.js";
import { mdTable } from "./lib/stats.js";
import type { Benchmark, BenchContext, Row } from "./lib/types.js";
import { BENCHMARKS } from "./registry.js";

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const DEFAULT_OUT = join(REPO_ROOT, "bench/RESULTS.md");

interface Options {
  names: string[];
  quick: boolean;
  out?: string;
  write: boolean;
  strict: boolean;
  list: boolean;
  /** Where peer processes write CPU profiles (node --cpu-prof). */
  profileDir?: string;
  /** Wait up to this long (s) before each benchmark for other processes to go quiet. */
  waitQuietSeconds: number;
}

/** Other processes using more than this many cores during a benchmark make its figures suspect. */
const BUSY_CORES = 0.2;

const USAGE = "usage: node dist/bench/run.js [name…] [--quick] [--out FILE] [--no-write] [--strict] [--wait-quiet SECONDS] [--profile DIR] [--list]";

function parseArgs(argv: readonly string[]): Options {
  const o: Options = { names: [], quick: false, write: true, strict: false, list: false, waitQuietSeconds: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--quick") o.quick = true;
    else if (a === "--no-write") o.write = false;
    else if (a === "--strict") o.strict = true;
    else if (a === "--list") o.list = true;
    else if (a === "--out") {
      const v = argv[++i];
      if (!v) throw new Error("--out needs a file");
      o.out = resolve(v);
    } else if (a === "--wait-quiet") {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v < 0) throw new Error("--wait-quiet needs a number of seconds");
      o.waitQuietSeconds = v;
    } else if (a === "--profile") {
      const v = argv[++i];
      if (!v) throw new Error("--profile needs a directory");
      o.profileDir = resolve(v);
    } else if (a === "--help" || a === "-h") {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else if (a.startsWith("-")) throw new Error(`unknown option ${a}`);
    else o.names.push(a);
  }
  return o;
}

/** The command as the user typed it, for the provenance line of each section. */
function commandLine(argv: readonly string[]): string {
  const args = argv.join(" ");
  if (process.env.npm_lifecycle_event === "bench") return `npm run bench${args ? ` -- ${args}` : ""}`;
  return `node ${relative(REPO_ROOT, process.argv[1] ?? "dist/bench/run.js")}${args ? ` ${args}` : ""}`;
}

function utcStamp(d: Date): string {
  return `${d.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

const cleanups: (() => void | Promise<void>)[] = [];

async function runCleanups(): Promise<void> {
  while (cleanups.length > 0) {
    const fn = cleanups.pop()!;
    try {
      await fn();
    } catch (err) {
      process.stderr.write(`cleanup failed: ${err instanceof Error ? err.message : String(err)}\n`);
    }
  }
}

function context(b: Benchmark, opts: Options, machine: MachineInfo): BenchContext {
  return {
    quick: opts.quick,
    peerNodeFlags: opts.profileDir ? ["--cpu-prof", "--cpu-prof-dir", opts.profileDir] : [],
    repoRoot: REPO_ROOT,
    machine,
    deadline: Date.now() + b.budgetMs,
    tempDir(prefix: string): string {
      const dir = mkdtempSync(join(tmpdir(), `mesh-bench-${prefix}`));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      return dir;
    },
    onCleanup: (fn) => void cleanups.push(fn),
    log: (msg) => void process.stderr.write(`[${b.name}] ${msg}\n`),
  };
}

/** Runs one benchmark within its budget; the cleanups (child processes, temp dirs) run either way. */
async function runOne(b: Benchmark, ctx: BenchContext) {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not finish within its budget of ${b.budgetMs / 1000} s`)), b.budgetMs);
  });
  try {
    return await Promise.race([b.run(ctx), timeout]);
  } finally {
    clearTimeout(timer);
    await runCleanups();
  }
}

function printTable(rows: (Row & { bench: string })[]): void {
  const header = ["benchmark", "metric", "value", "goal", "status"];
  const cells = rows.map((r) => [r.bench, r.metric, r.value, r.goal ?? "", r.status === "info" ? "" : r.status]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((x, i) => (i === 2 ? x.padStart(widths[i]!) : x.padEnd(widths[i]!))).join("  ").trimEnd();
  process.stdout.write([line(header), widths.map((w) => "-".repeat(w)).join("  "), ...cells.map(line)].join("\n") + "\n");
}

function header(machine: MachineInfo, when: Date, command: string): string {
  const mem = `${(machine.memoryBytes / 2 ** 30).toFixed(1)} GiB`;
  return [
    "# Benchmark results",
    "",
    "Written by `npm run bench` (bench/run.ts); bench/README.md says what each benchmark measures and how.",
    "Figures are medians of several runs; where a baseline exists it is measured in the same run and the figure is given as a ratio to it.",
    "Each section names the command, date and machine that produced it: a run replaces only the sections of the benchmarks it ran.",
    "",
    `Latest run: ${utcStamp(when)}, \`${command}\`, on:`,
    "",
    mdTable(
      ["CPU", "cores", "memory", "Node.js", "OpenSSL", "OS"],
      [[machine.cpuModel, `${machine.cores}${machine.cpuQuota ? ` (${machine.cpuQuota})` : ""}`, mem, machine.node, machine.openssl, machine.os]],
    ),
  ].join("\n");
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const opts = parseArgs(argv);
  if (opts.list) {
    for (const b of BENCHMARKS) process.stdout.write(`${b.name.padEnd(16)} ${b.description}\n`);
    return 0;
  }
  const unknown = opts.names.filter((n) => !BENCHMARKS.some((b) => b.name === n));
  if (unknown.length > 0) throw new Error(`unknown benchmark(s): ${unknown.join(", ")} (known: ${BENCHMARKS.map((b) => b.name).join(", ")})`);
  const selected = opts.names.length === 0 ? BENCHMARKS : BENCHMARKS.filter((b) => opts.names.includes(b.name));
  // smoke runs and profiled runs are not results: they go to a file only when asked for with --out
  const out = opts.out ?? (opts.quick || opts.profileDir ? undefined : DEFAULT_OUT);
  const machine = machineInfo();
  const command = commandLine(argv);
  const started = new Date();
  process.stderr.write(`machine: ${describeMachine(machine)}\n`);

  const rows: (Row & { bench: string })[] = [];
  const sections = new Map<string, string>();
  let errors = 0;
  let failedGoals = 0;
  for (const b of selected) {
    const ctx = context(b, opts, machine);
    const why = b.unavailable ? await b.unavailable(ctx) : undefined;
    if (why !== undefined) {
      rows.push({ bench: b.name, metric: `skipped: ${why}`, value: "", status: "info" });
      continue;
    }
    const before = await waitForQuiet(BUSY_CORES, opts.waitQuietSeconds * 1000, ctx.log);
    const t0 = Date.now();
    const window = startLoadWindow();
    try {
      // a fresh context: the budget starts now, not before the wait
      const section = await runOne(b, context(b, opts, machine));
      const took = Math.round((Date.now() - t0) / 1000);
      const other = window.stop();
      const busy = other !== undefined && other > BUSY_CORES;
      if (busy) rows.push({ bench: b.name, metric: `warning: other processes used ${other.toFixed(2)} cores during the run`, value: "", status: "info" });
      rows.push(...section.rows.map((r) => ({ ...r, bench: b.name })));
      failedGoals += section.rows.filter((r) => r.status === "FAIL").length;
      const quick = opts.quick ? " **Quick smoke run: small counts, not a result.**" : "";
      const load = other === undefined ? "" : `  \nOther processes on the machine used ${other.toFixed(2)} cores on average during the run (${before?.toFixed(2) ?? "?"} just before).${busy ? " **The machine was busy: these figures are biased low.**" : ""}`;
      const provenance = `Produced by \`${command}\` on ${utcStamp(new Date(t0))} in ${took} s.${quick}  \nMachine: ${describeMachine(machine)}.${load}`;
      sections.set(b.name, `## ${b.name}: ${b.description}\n\n${provenance}\n\n${section.markdown}`);
    } catch (err) {
      errors++;
      const msg = err instanceof Error ? err.message : String(err);
      process.stderr.write(`[${b.name}] failed: ${msg}\n`);
      if (process.env.MESH_DEBUG === "1" && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
      rows.push({ bench: b.name, metric: `error: ${msg.slice(0, 100)}`, value: "", status: "FAIL" });
    }
  }

  printTable(rows);
  if (out && opts.write && sections.size > 0) {
    const merged = readSections(out);
    for (const [name, body] of sections) merged.set(name, body);
    writeResults(out, renderResults(header(machine, started, command), merged, BENCHMARKS.map((b) => b.name)));
    process.stderr.write(`wrote ${out}\n`);
  }
  return errors > 0 || (opts.strict && failedGoals > 0) ? 1 : 0;
}

for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    process.stderr.write(`\n${sig}: stopping peers and removing temp dirs\n`);
    void runCleanups().finally(() => process.exit(130));
  });
}

main()
  .then((code) => process.exit(code))
  .catch(async (err: unknown) => {
    await runCleanups();
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n${USAGE}\n`);
    process.exit(2);
  });
