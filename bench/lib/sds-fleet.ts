/**
 * A fleet of SDS subscribers in a child process (sds-fleet-child.ts): real
 * SdsClients over the agent's Unix sockets, as sidecars use them, plus plain
 * `ws` clients for a transport baseline. The child has its own event loop
 * (and, with taskset, its own CPU), so the server is not measured against
 * clients that share its loop. Times are CLOCK_MONOTONIC microseconds
 * (process.hrtime), which is one clock for every process on the machine.
 */
import { fork, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { hasTaskset, processCpuSeconds } from "./process.js";
import type { BenchContext } from "./types.js";

export interface SocketGroup {
  path: string;
  clients: number;
}

export type Expectation =
  /** Each SDS client holds (validated and ACKed) exactly this trust bundle. */
  | { kind: "bundle"; pem: string }
  /** Each SDS client holds a leaf with another serial than when armed. */
  | { kind: "newLeaf" }
  /** Each raw client received a frame starting with this tag. */
  | { kind: "raw"; tag: string };

export type ToChild =
  | { type: "start"; sds: SocketGroup[]; raw: SocketGroup[]; timeoutMs: number }
  | { type: "arm"; id: number; expect: Expectation; timeoutMs: number }
  | { type: "stats" }
  | { type: "stop" };

export interface ArmResult {
  id: number;
  /** Monotonic µs at which each client met the expectation, -1 when it did not before the timeout. */
  atUs: number[];
  /** Leaf serial each SDS client holds at the end (for "newLeaf"/"bundle"), by client index. */
  serials: string[];
  complete: boolean;
}

export type FromChild =
  | { type: "started"; sds: number; raw: number; ms: number }
  | { type: "armed"; id: number }
  | ({ type: "result" } & ArmResult)
  | { type: "stats"; validateFailures: number; disconnects: number; nacks: number; validateUs: number; validations: number }
  | { type: "error"; message: string };

/** Monotonic time in µs, comparable with the child's. */
export const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);

export interface FleetStats {
  validations: number;
  validateFailures: number;
  disconnects: number;
  nacks: number;
  /** Mean CPU time of one client-side validation (parse chain and bundle, verify the leaf, match the key) while armed, µs. */
  validateUsMean: number;
}

export class SdsFleet {
  private nextId = 1;
  private readonly waiters = new Map<string, (m: FromChild) => void>();
  private failure: Error | undefined;
  private stderr = "";

  private constructor(private readonly child: ChildProcess) {
    child.on("message", (m: FromChild) => {
      if (m.type === "error") return this.fail(new Error(`SDS client fleet: ${m.message}`));
      const key = m.type === "armed" || m.type === "result" ? `${m.type}:${m.id}` : m.type;
      const w = this.waiters.get(key);
      if (w) {
        this.waiters.delete(key);
        w(m);
      }
    });
    child.stderr?.on("data", (d: Buffer) => {
      this.stderr = (this.stderr + d.toString("utf8")).slice(-2000);
    });
    child.on("exit", (code, signal) => this.fail(new Error(`SDS client fleet exited (${code ?? signal}): ${this.stderr.trim().slice(-500)}`)));
  }

  /** Forks the child (pinned to cpuList when taskset exists), connects every client and waits until each holds its first secrets. */
  static async start(ctx: BenchContext, groups: { sds: SocketGroup[]; raw: SocketGroup[] }, o: { cpuList?: string; timeoutMs: number }): Promise<{ fleet: SdsFleet; connectMs: number }> {
    const script = join(ctx.repoRoot, "dist/bench/lib/sds-fleet-child.js");
    const pin = o.cpuList !== undefined && hasTaskset();
    // taskset execs node in place: same pid, the IPC channel's fd survives the exec
    const child = pin
      ? fork(script, [], { execPath: "taskset", execArgv: ["-c", o.cpuList!, process.execPath, ...ctx.peerNodeFlags], stdio: ["ignore", "ignore", "pipe", "ipc"] })
      : fork(script, [], { execArgv: [...ctx.peerNodeFlags], stdio: ["ignore", "ignore", "pipe", "ipc"] });
    const fleet = new SdsFleet(child);
    ctx.onCleanup(() => fleet.stop());
    const started = fleet.wait("started", o.timeoutMs + 5000);
    fleet.send({ type: "start", ...groups, timeoutMs: o.timeoutMs });
    const m = (await started) as Extract<FromChild, { type: "started" }>;
    return { fleet, connectMs: m.ms };
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  cpuSeconds(): number {
    return processCpuSeconds(this.pid);
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const w of this.waiters.values()) w({ type: "error", message: err.message });
    this.waiters.clear();
  }

  private send(m: ToChild): void {
    if (this.failure) throw this.failure;
    this.child.send(m);
  }

  private wait(key: string, timeoutMs: number): Promise<FromChild> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(key);
        reject(new Error(`SDS client fleet: no "${key}" within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(key, (m) => {
        clearTimeout(timer);
        if (m.type === "error") reject(this.failure ?? new Error(m.message));
        else resolve(m);
      });
    });
  }

  /**
   * Arms the expectation in the child and resolves once it is armed; the
   * returned promise (`result`) settles when every client met it or after
   * timeoutMs. Trigger the change only after this resolves.
   */
  async arm(expect: Expectation, timeoutMs: number): Promise<{ result: Promise<ArmResult> }> {
    const id = this.nextId++;
    const armed = this.wait(`armed:${id}`, 10_000);
    const result = this.wait(`result:${id}`, timeoutMs + 10_000) as Promise<ArmResult & { type: "result" }>;
    result.catch(() => undefined); // observed by the caller; never an unhandled rejection
    this.send({ type: "arm", id, expect, timeoutMs });
    await armed;
    return { result };
  }

  async stats(): Promise<FleetStats> {
    const p = this.wait("stats", 10_000);
    this.send({ type: "stats" });
    const m = (await p) as Extract<FromChild, { type: "stats" }>;
    return { validations: m.validations, validateFailures: m.validateFailures, disconnects: m.disconnects, nacks: m.nacks, validateUsMean: m.validations > 0 ? m.validateUs / m.validations : Number.NaN };
  }

  /** Asks the child to close its clients and exit; kills it after 5 s. */
  async stop(): Promise<void> {
    const c = this.child;
    if (c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise<void>((r) => c.once("exit", () => r()));
    try {
      c.send({ type: "stop" });
    } catch {
      c.kill("SIGKILL");
    }
    const timer = setTimeout(() => c.kill("SIGKILL"), 5000);
    await gone;
    clearTimeout(timer);
  }
}

/**
 * Several fleets driven as one: whole sockets are dealt out round-robin to
 * `procs` child processes, and results come back in the original client order.
 */
export class FleetGroup {
  private constructor(
    private readonly fleets: SdsFleet[],
    /** For each fleet, the original index of each of its SDS clients / raw clients. */
    private readonly sdsIndex: number[][],
    private readonly rawIndex: number[][],
    private readonly sdsTotal: number,
    private readonly rawTotal: number,
  ) {}

  static async start(ctx: BenchContext, groups: { sds: SocketGroup[]; raw: SocketGroup[] }, o: { procs: number; cpuList?: string; timeoutMs: number }): Promise<{ fleets: FleetGroup; connectMs: number }> {
    const procs = Math.max(1, Math.min(o.procs, groups.sds.length + groups.raw.length));
    const deal = (gs: SocketGroup[]) => {
      const parts = Array.from({ length: procs }, () => ({ groups: [] as SocketGroup[], index: [] as number[] }));
      let next = 0;
      gs.forEach((g, i) => {
        const part = parts[i % procs]!;
        part.groups.push(g);
        for (let c = 0; c < g.clients; c++) part.index.push(next + c);
        next += g.clients;
      });
      return { parts, total: next };
    };
    const sds = deal(groups.sds);
    const raw = deal(groups.raw);
    const started = await Promise.all(sds.parts.map((p, k) => SdsFleet.start(ctx, { sds: p.groups, raw: raw.parts[k]!.groups }, { cpuList: o.cpuList, timeoutMs: o.timeoutMs })));
    const fleets = new FleetGroup(started.map((s) => s.fleet), sds.parts.map((p) => p.index), raw.parts.map((p) => p.index), sds.total, raw.total);
    return { fleets, connectMs: Math.max(...started.map((s) => s.connectMs)) };
  }

  get size(): number {
    return this.fleets.length;
  }

  cpuSeconds(): number {
    return this.fleets.reduce((a, f) => a + f.cpuSeconds(), 0);
  }

  async arm(expect: Expectation, timeoutMs: number): Promise<{ result: Promise<ArmResult> }> {
    const arms = await Promise.all(this.fleets.map((f) => f.arm(expect, timeoutMs)));
    const index = expect.kind === "raw" ? this.rawIndex : this.sdsIndex;
    const total = expect.kind === "raw" ? this.rawTotal : this.sdsTotal;
    const result = Promise.all(arms.map((a) => a.result)).then((rs) => {
      const out: ArmResult = { id: rs[0]!.id, atUs: new Array<number>(total).fill(-1), serials: new Array<string>(this.sdsTotal).fill(""), complete: rs.every((r) => r.complete) };
      rs.forEach((r, k) => {
        r.atUs.forEach((at, j) => (out.atUs[index[k]![j]!] = at));
        r.serials.forEach((s, j) => (out.serials[this.sdsIndex[k]![j]!] = s));
      });
      return out;
    });
    result.catch(() => undefined);
    return { result };
  }

  async stats(): Promise<FleetStats> {
    const all = await Promise.all(this.fleets.map((f) => f.stats()));
    const validations = all.reduce((a, s) => a + s.validations, 0);
    const us = all.reduce((a, s) => a + (s.validations > 0 ? s.validateUsMean * s.validations : 0), 0);
    return {
      validations,
      validateFailures: all.reduce((a, s) => a + s.validateFailures, 0),
      disconnects: all.reduce((a, s) => a + s.disconnects, 0),
      nacks: all.reduce((a, s) => a + s.nacks, 0),
      validateUsMean: validations > 0 ? us / validations : Number.NaN,
    };
  }

  async stop(): Promise<void> {
    await Promise.all(this.fleets.map((f) => f.stop()));
  }
}
