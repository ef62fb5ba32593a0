/**
 * sds-fanout: a trust-bundle change (a new root, as in a CA rotation) pushed
 * by the SDS server to 1,000 subscribers, each a real SdsClient in a child
 * process that validates and ACKs it. Timed from the first setSecrets call
 * to each client holding the new bundle. Baseline in the same run: the same
 * number of plain `ws` clients on their own sockets receiving one frame of
 * the same size by a plain broadcast loop. Goal: all 1,000 in under 1 s.
 */
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { SdsServer } from "../sds-server/server.js";
import { FleetGroup, nowUs, type ArmResult, type FleetStats } from "./lib/sds-fleet.js";
import { selfCpuSeconds } from "./lib/process.js";
import { fmt, fmtRuns, mdTable, median, percentile } from "./lib/stats.js";
import { meets, type Benchmark, type BenchContext, type Goal, type Row, type Section } from "./lib/types.js";
import { BroadcastServers, makeFixture, type FanoutFixture } from "./sds-fanout-setup.js";

const GOAL: Goal = { op: "<=", value: 1000, unit: "ms" };

interface Layout {
  sockets: number;
  perSocket: number;
}

function plan(quick: boolean) {
  return quick
    ? { layouts: [{ sockets: 100, perSocket: 1 }, { sockets: 10, perSocket: 10 }] as Layout[], runs: 3, warmups: 1, runTimeoutMs: 10_000 }
    : { layouts: [{ sockets: 1000, perSocket: 1 }, { sockets: 100, perSocket: 10 }] as Layout[], runs: 5, warmups: 2, runTimeoutMs: 10_000 };
}

/** One fan-out as seen by the clients. */
interface Fig {
  p50: number;
  p99: number;
  /** Time to the last client, ms; Infinity when some client never got it. */
  max: number;
  missing: number;
  /** The server's synchronous part (the setSecrets / send loop), ms. */
  loopMs: number;
  serverCpuMs: number;
  clientCpuMs: number;
}

interface LayoutResult {
  layout: Layout;
  subscribers: number;
  connectMs: number;
  sds: Fig[];
  base: Fig[];
  stats: FleetStats;
  truncated: boolean;
  checks: string[];
}

function figure(r: ArmResult, t0: number, loopMs: number, serverCpuMs: number, clientCpuMs: number): Fig {
  const ms = r.atUs.filter((a) => a >= 0).map((a) => (a - t0) / 1000);
  const missing = r.atUs.length - ms.length;
  return { p50: percentile(ms, 50), p99: percentile(ms, 99), max: missing > 0 ? Number.POSITIVE_INFINITY : Math.max(...ms), missing, loopMs, serverCpuMs, clientCpuMs };
}

async function runLayout(ctx: BenchContext, fx: FanoutFixture, layout: Layout, p: ReturnType<typeof plan>, procs: number): Promise<LayoutResult> {
  const label = `${layout.sockets}×${layout.perSocket}`;
  const dir = ctx.tempDir(`sds-fanout-${layout.sockets}x${layout.perSocket}-`);
  const names = fx.names.slice(0, layout.sockets);
  const subscribers = layout.sockets * layout.perSocket;
  const events = { nack: 0, protocolError: 0, denied: 0 };
  const sds = new SdsServer({
    dir: join(dir, "sds"),
    onEvent: (e) => {
      if (e.type === "nack") events.nack++;
      else if (e.type === "protocol_error") events.protocolError++;
      else if (e.type === "connection_denied") events.denied++;
    },
  });
  ctx.onCleanup(() => sds.close());
  ctx.log(`${label}: ${layout.sockets} SDS sockets and ${layout.sockets} baseline sockets`);
  for (let i = 0; i < names.length; i++) {
    await sds.addWorkload(names[i]!);
    sds.setSecrets(names[i]!, { default: fx.leaves[i]!, ROOTCA: { trustedCaPem: fx.initialBundle } });
  }
  const rawDir = join(dir, "raw");
  const base = await BroadcastServers.start(rawDir, names);
  ctx.onCleanup(() => base.close());

  ctx.log(`${label}: connecting ${subscribers} SdsClients and ${subscribers} plain ws clients in a child process`);
  const { fleets: fleet, connectMs } = await FleetGroup.start(
    ctx,
    {
      sds: names.map((n) => ({ path: sds.socketPath(n), clients: layout.perSocket })),
      raw: names.map((n) => ({ path: join(rawDir, `${n}.sock`), clients: layout.perSocket })),
    },
    { procs, timeoutMs: 60_000 },
  );
  if (sds.subscriberCount() !== subscribers) throw new Error(`${sds.subscriberCount()} SDS subscribers, expected ${subscribers}`);
  if (base.connected !== subscribers) throw new Error(`${base.connected} baseline clients, expected ${subscribers}`);

  const out: LayoutResult = { layout, subscribers, connectMs, sds: [], base: [], stats: { validations: 0, validateFailures: 0, disconnects: 0, nacks: 0, validateUsMean: Number.NaN }, truncated: false, checks: [] };
  // warm-up rounds first (JIT, buffers), untimed; then the runs
  const rounds = p.warmups + p.runs;
  let pushed = 0;
  for (let r = 0; r < rounds; r++) {
    const timeout = Math.min(p.runTimeoutMs, ctx.deadline - Date.now() - 30_000);
    if (timeout < 2000) {
      out.truncated = true;
      break;
    }
    // baseline: one prepared frame of the same size, broadcast
    const tag = `round${r}:`;
    const frame = tag + "x".repeat(fx.frameBytes - tag.length);
    let armed = await fleet.arm({ kind: "raw", tag }, timeout);
    let c0 = selfCpuSeconds();
    let f0 = fleet.cpuSeconds();
    let t0 = nowUs();
    base.broadcast(frame);
    let loopMs = (nowUs() - t0) / 1000;
    let res = await armed.result;
    await sleep(100); // let the last frames drain before the CPU is read
    const b = figure(res, t0, loopMs, (selfCpuSeconds() - c0) * 1000, (fleet.cpuSeconds() - f0) * 1000);

    // subject: what the agent does when the bundle changes, setSecrets for every workload
    const bundle = fx.bundles[r]!;
    armed = await fleet.arm({ kind: "bundle", pem: bundle }, timeout);
    c0 = selfCpuSeconds();
    f0 = fleet.cpuSeconds();
    t0 = nowUs();
    for (let i = 0; i < names.length; i++) sds.setSecrets(names[i]!, { default: fx.leaves[i]!, ROOTCA: { trustedCaPem: bundle } });
    loopMs = (nowUs() - t0) / 1000;
    res = await armed.result;
    await sleep(100); // the ACKs of the last clients are handled before the CPU is read
    const s = figure(res, t0, loopMs, (selfCpuSeconds() - c0) * 1000, (fleet.cpuSeconds() - f0) * 1000);
    pushed++;
    const what = r < p.warmups ? `warm-up ${r + 1}/${p.warmups}` : `run ${r + 1 - p.warmups}/${p.runs}`;
    if (r >= p.warmups) {
      out.base.push(b);
      out.sds.push(s);
    }
    ctx.log(
      `${label} ${what}: SDS p50 ${fmt(s.p50, 1)} ms, p99 ${fmt(s.p99, 1)} ms, max ${fmt(s.max, 1)} ms (setSecrets loop ${fmt(s.loopMs, 1)} ms)` +
        ` · baseline p50 ${fmt(b.p50, 1)} ms, max ${fmt(b.max, 1)} ms${s.missing > 0 ? ` · ${s.missing} clients never got it` : ""}`,
    );
  }

  out.stats = await fleet.stats();
  const last = pushed;
  const versions = names.filter((n) => sds.version(n) !== String(last + 1)).length;
  await fleet.stop();
  await base.close();
  await sds.close();
  if (out.stats.validateFailures > 0 || out.stats.nacks > 0 || events.nack > 0) throw new Error(`${label}: ${out.stats.validateFailures} validation failures, ${events.nack} NACKs`);
  if (out.stats.disconnects > 0 || events.protocolError > 0 || events.denied > 0) {
    throw new Error(`${label}: ${out.stats.disconnects} client disconnects, ${events.protocolError} protocol errors, ${events.denied} refused connections`);
  }
  if (versions > 0) throw new Error(`${label}: ${versions} workloads are not at version ${last + 1}`);
  out.checks.push(
    `${label}: every client validated (chain against the new bundle, key against the leaf) and ACKed each push, no NACK, no disconnect, no protocol error; every workload at version ${last + 1}`,
  );
  return out;
}

const ms = (v: number) => (Number.isFinite(v) ? fmt(v, v < 10 ? 2 : 1) : "never");

function layoutMarkdown(r: LayoutResult, cores: number): string {
  const m = (f: (x: Fig) => number, of: Fig[] = r.sds) => median(of.map(f));
  const runs = (f: (x: Fig) => number, of: Fig[] = r.sds) => of.map((x) => ms(f(x))).join(" · ");
  const ratio = (f: (x: Fig) => number) => r.sds.map((x, i) => f(x) / f(r.base[i]!));
  const perSub = (x: Fig) => (x.serverCpuMs * 1000) / r.subscribers;
  const rows = [
    ["**time to the last subscriber (max), ms**", ms(m((x) => x.max)), runs((x) => x.max)],
    ["p50, ms", ms(m((x) => x.p50)), runs((x) => x.p50)],
    ["p99, ms", ms(m((x) => x.p99)), runs((x) => x.p99)],
    ["`setSecrets` loop over the workloads (synchronous), ms", ms(m((x) => x.loopMs)), runs((x) => x.loopMs)],
    ["server CPU per fan-out, ms (incl. the ACKs)", ms(m((x) => x.serverCpuMs)), runs((x) => x.serverCpuMs)],
    ["server CPU per subscriber, µs", fmt(m(perSub)), fmtRuns(r.sds.map(perSub))],
    ["client processes' CPU per fan-out (all subscribers), ms", ms(m((x) => x.clientCpuMs)), runs((x) => x.clientCpuMs)],
    ["baseline: plain `ws` broadcast, max, ms", ms(m((x) => x.max, r.base)), runs((x) => x.max, r.base)],
    ["baseline p50, ms", ms(m((x) => x.p50, r.base)), runs((x) => x.p50, r.base)],
    ["baseline server CPU per broadcast, ms", ms(m((x) => x.serverCpuMs, r.base)), runs((x) => x.serverCpuMs, r.base)],
    ["**max ÷ baseline max**", fmt(median(ratio((x) => x.max)), 2), fmtRuns(ratio((x) => x.max), 2)],
    ["p50 ÷ baseline p50", fmt(median(ratio((x) => x.p50)), 2), fmtRuns(ratio((x) => x.p50), 2)],
  ];
  return [
    `**${r.layout.sockets} sockets × ${r.layout.perSocket} client${r.layout.perSocket > 1 ? "s" : ""} = ${fmt(r.subscribers)} subscribers** (all connected and served in ${fmt(r.connectMs)} ms). ${r.sds.length} runs${r.truncated ? " (**cut short by the time budget**)" : ""}. Client-side validation of one push: ${fmt(r.stats.validateUsMean)} µs of CPU (mean).`,
    "",
    mdTable(["measure", "median", "runs"], rows),
    "",
    `Per fan-out the server (this process) used ${ms(m((x) => x.serverCpuMs))} ms of CPU and the subscribers ${ms(m((x) => x.clientCpuMs))} ms (${fmt(m((x) => (x.clientCpuMs * 1000) / r.subscribers))} µs each, of which ~${fmt(r.stats.validateUsMean)} µs is their validation), on ${cores} CPU${cores > 1 ? "s" : ""} shared by all${m((x) => x.clientCpuMs) > m((x) => x.serverCpuMs) ? ": the subscribers' own work, more than the server's, is what the time to the last one is mostly made of" : ""}.`,
  ].join("\n");
}

export const sdsFanout: Benchmark = {
  name: "sds-fanout",
  description: "trust-bundle change pushed over SDS to 1,000 subscribers: time until each holds it",
  budgetMs: 10 * 60_000,
  async run(ctx: BenchContext): Promise<Section> {
    const p = plan(ctx.quick);
    const maxSockets = Math.max(...p.layouts.map((l) => l.sockets));
    ctx.log(`issuing ${maxSockets} workload SVIDs and ${p.runs} new roots before timing`);
    const fx = makeFixture(ctx.tempDir("sds-fanout-ca-"), maxSockets, p.warmups + p.runs);

    // One client process per CPU, nothing pinned: the agent and its sidecars share a node's CPUs the same way.
    const procs = Math.max(1, ctx.machine.cores);
    const placement = `${procs} child process${procs > 1 ? "es" : ""} (sockets dealt out round-robin); nothing is pinned, so the server and the clients share the machine's ${ctx.machine.cores} CPUs as an agent and its sidecars share a node's`;
    const results: LayoutResult[] = [];
    for (const layout of p.layouts) results.push(await runLayout(ctx, fx, layout, p, procs));

    const rows: Row[] = [];
    const goalRows: string[][] = [];
    for (const r of results) {
      const max = median(r.sds.map((x) => x.max));
      const st = meets(GOAL, max) ? "PASS" : "FAIL";
      const label = `${r.layout.sockets}×${r.layout.perSocket}`;
      rows.push({ metric: `${label}: time to last of ${fmt(r.subscribers)} subscribers, ms (median)`, value: ms(max), goal: `≤ ${fmt(GOAL.value)} ms`, status: st });
      rows.push({ metric: `  p50 / p99, ms`, value: `${ms(median(r.sds.map((x) => x.p50)))} / ${ms(median(r.sds.map((x) => x.p99)))}`, status: "info" });
      rows.push({ metric: `  ÷ plain ws broadcast max (same run)`, value: fmt(median(r.sds.map((x, i) => x.max / r.base[i]!.max)), 2), status: "info" });
      goalRows.push([`all ${fmt(r.subscribers)} subscribers hold the new bundle, ${label}`, `≤ ${fmt(GOAL.value)} ms`, ms(max), `**${st}**`]);
    }
    const markdown = [
      mdTable(["goal", "target", "median of max", "result"], goalRows),
      "",
      `The SDS server runs in this process, as the agent embeds it: one Unix-socket WebSocket server per workload, each with its own SVID and key already served. The subscribers are \`SdsClient\`s (sds-server/client.ts, as the sidecars use) in ${placement}. Each client validates every push before it ACKs: the leaf chain verifies against the pushed bundle (\`validateX509Svid\`) and the key matches the leaf.`,
      `A run: the bundle changes from the old root alone (first run) or the previous run's bundle to the old root plus a new root; \`setSecrets(workload, {default, ROOTCA})\` is called for every workload, as the agent does when the bundle changes. A subscriber's time is taken (CLOCK_MONOTONIC, one clock for all processes) right after it validated the push and sent its ACK; t0 is just before the first \`setSecrets\`. Each push carries both resources (state of the world): ${fmt(fx.frameBytes)} bytes.`,
      `**Baseline**, right before each run: the same number of plain \`ws\` clients in the same child processes, on their own Unix sockets (same layout), receive one ${fmt(fx.frameBytes)}-byte text frame sent by a plain \`for (ws of clients) ws.send(frame)\` loop; no JSON, no validation, no ACK. The ratio shows what the protocol (building and checking each response, parsing, validating, ACKing) costs over bare transport.`,
      "",
      ...results.flatMap((r) => [layoutMarkdown(r, ctx.machine.cores), ""]),
      `Checked after the runs: ${results.flatMap((r) => r.checks).join("; ")}.`,
    ].join("\n");
    return { markdown, rows };
  },
};
