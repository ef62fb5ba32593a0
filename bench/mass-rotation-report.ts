/** The RESULTS.md section of mass-rotation: setup, goals, one table per agent configuration, where the limit is. */
import type { Phase } from "./mass-rotation-agent.js";
import { fmt, fmtRuns, mdTable, median } from "./lib/stats.js";

export interface WaveRec {
  phase: Phase;
  /** Until every sampled socket's client held (validated, ACKed) a new certificate, ms from the jump. */
  sampleMs: number;
  /** The wave: the later of the last handed to SDS and the last sampled client. */
  totalMs: number;
  baselinePerSec: number;
  baselineTruncated: boolean;
  /** Workload certificates the CA issued to the node during the wave (its store). */
  signed: number;
}

export interface VariantResult {
  label: string;
  maxInFlight: number;
  initial: Phase & { startMs: number };
  waves: WaveRec[];
  /** Why fewer waves ran than planned, if so. */
  cut?: string;
  sample: number;
  sampleDisconnects: number;
  /** CPUs the agent process could use (1 when pinned). */
  agentCores: number;
}

export interface ReportInput {
  n: number;
  goalRows: string[][];
  results: VariantResult[];
  placement: string;
  entriesMs: number;
  signRate: number;
  entriesFetch?: { ms: number[]; bytes: number; entries: number };
  baselineCount: number;
}

/** The agent's tick: the windows renewals are counted in. */
const TICK_MS = 250;
/** A process busier than this share of the CPUs it may use counts as saturated. */
const SATURATED = 0.85;

const s = (ms: number) => (Number.isFinite(ms) ? fmt(ms / 1000, 2) : "not all");

function variantMarkdown(r: VariantResult, n: number): string {
  const w = r.waves;
  const col = (f: (x: WaveRec) => number, d?: number) => [fmt(median(w.map(f)), d), fmtRuns(w.map(f), d)];
  const rate = (x: WaveRec) => (n * 1000) / x.totalMs;
  const secs = (x: WaveRec) => x.totalMs / 1000;
  const windows = (x: WaveRec) => x.phase.perWindow.slice(0, -1); // the last window is partial
  const rows = [
    ["**wave: every identity renewed and served, s**", ...col(secs, 2)],
    ["identities renewed per second", ...col(rate)],
    [`sampled sockets (${r.sample}): last client holding its new certificate, s`, ...col((x) => x.sampleMs / 1000, 2)],
    ["CA: workload certificates issued to the node during the wave (its store)", ...col((x) => x.signed)],
    ["CA: signing rate during the wave, /s", ...col((x) => (x.signed * 1000) / x.totalMs)],
    ["baseline: raw `POST /v1/sign` rate, same CA, 8 connections, /s", ...col((x) => x.baselinePerSec)],
    ["**identities/s ÷ raw API signings/s**", ...col((x) => rate(x) / x.baselinePerSec, 3)],
    ["CA process CPU during the wave, cores", ...col((x) => x.phase.caCpuS / secs(x), 2)],
    ["CA CPU per signing, ms", ...col((x) => (x.phase.caCpuS * 1000) / x.signed, 2)],
    ["agent process CPU during the wave, cores", ...col((x) => x.phase.agentCpuS / secs(x), 2)],
    ["agent CPU per renewal (key, CSR, check, SDS push, audit), ms", ...col((x) => (x.phase.agentCpuS * 1000) / n, 2)],
    [`renewals completed per ${TICK_MS} ms window, median`, ...col((x) => median(windows(x).length ? windows(x) : x.phase.perWindow), 0)],
    [`renewals completed per ${TICK_MS} ms window, max`, ...col((x) => Math.max(...x.phase.perWindow), 0)],
    ["renewal failures (agent metrics)", ...col((x) => x.phase.failures, 0)],
  ];
  const i = r.initial;
  const agent = median(w.map((x) => x.phase.agentCpuS / secs(x)));
  const ca = median(w.map((x) => x.phase.caCpuS / secs(x)));
  const limit =
    agent >= SATURATED * r.agentCores
      ? `The agent process was saturated (${fmt(agent, 2)} of the ${r.agentCores} CPU${r.agentCores > 1 ? "s" : ""} it may use) while the CA used ${fmt(ca, 2)} of its core: **the agent's own work per identity bounds the wave**, not the CA or the concurrency towards it.`
      : ca >= SATURATED
        ? `The CA was saturated (${fmt(ca, 2)} cores) while the agent used ${fmt(agent, 2)}: the CA's signing bounds the wave.`
        : `Neither process was saturated (agent ${fmt(agent, 2)}, CA ${fmt(ca, 2)} cores): the wave waited on something other than CPU (concurrency, I/O, or other processes on the machine).`;
  return [
    `#### Agent config: ${r.label}`,
    "",
    `**(a) First issuance** (1 run: one agent start): all ${fmt(n)} identities served in **${s(i.ms)} s** (${fmt((n * 1000) / i.ms)}/s), of which ${s(i.startMs)} s for \`agent.start()\` (attestation, first sync, ${fmt(n)} SDS sockets created one after another); CA ${fmt(i.caCpuS / (i.ms / 1000), 2)} cores, agent ${fmt(i.agentCpuS / (i.ms / 1000), 2)} cores; ${i.failures} failures.`,
    "",
    `**(b) Renewal waves**: ${w.length} run${w.length === 1 ? "" : "s"}${r.cut ? ` (**cut short by ${r.cut}**)` : ""}.`,
    "",
    mdTable(["measure", "median", "runs"], rows),
    "",
    `${limit} At most ${r.maxInFlight} renewals are in flight (\`max_concurrent_signs\`), over the CA client's 8 connections.${r.sampleDisconnects > 0 ? ` Sample clients saw ${r.sampleDisconnects} disconnects.` : ""}`,
  ].join("\n");
}

export function rotationMarkdown(o: ReportInput): string {
  const f = o.entriesFetch;
  return [
    mdTable(["goal", "target", "median wave", "result"], o.goalRows),
    "",
    `For scale: Consul's published plan is 1,000 instances rotated in 20 s.`,
    "",
    `**CA**: \`mesh ca serve\` in a child process (${o.placement}), ECDSA P-256, SQLite store and audit log as in production. Its per-node CSR rate limit is **raised out of the way** (\`--sign-rate ${fmt(o.signRate)} --sign-burst ${fmt(o.signRate)}\`; the default 500/s with a burst of 1,000 alone would hold ${fmt(o.n)} signings to ≥ ${fmt(Math.max(0, o.n - 1000) / 500, 0)} s). Leaf and node TTL 24 h (the CA's maximum; see the clock below). ${fmt(o.n)} registration entries for one node, created before the server starts (${fmt(o.entriesMs / 1000, 1)} s, each with its audit event).`,
    `**Agent**: \`NodeAgent\` and its \`SdsServer\` in this process, wired as \`mesh agent\` wires them (real audit log in SQLite, pino at info to a file, tick every 250 ms, poll_interval 5 s, renewal at 50 % ± 10 % of the lifetime), talking HTTPS/mTLS to the CA. One Unix socket per workload: **${fmt(o.n)} listening sockets in this process**, so the open-file limit (RLIMIT_NOFILE, 20,000 on this machine) must exceed ${fmt(o.n)} plus a margin; the benchmark checks it before starting.`,
    `**Clock**: the agent's clock is real time plus an offset; a wave is one jump of the offset past every identity's renewal time (so all ${fmt(o.n)} are due at once), kept below the certificates' 24 h lifetime so that nothing held expires on the shifted clock. The agent notices at its next tick (≤ 250 ms, included in the time). **End of a wave**: every workload's new certificate handed to the SDS server (counted for all ${fmt(o.n)}), and an \`SdsClient\` on each of a sample of sockets (every k-th, one client each, in a child process; each validates and ACKs) holding a certificate with a new serial that equals the one the agent serves.`,
    `**Baseline**, right before each wave: another node signs ${fmt(o.baselineCount)} pre-made CSRs through the same API over 8 mTLS keep-alive connections, 8 in flight (the agent's CA client also uses 8 connections). The ratio compares the wave's identities/s with this raw rate; the agent also makes a key, a CSR and checks each certificate, and the CA also serves the agent's syncs.`,
    f ? `Each sync (every 5 s) fetches all entries of the node: \`GET /v1/entries\` returned ${fmt(f.entries)} entries (${fmt(f.bytes / 1e6, 2)} MB) in ${fmt(median(f.ms))} ms (median of ${f.ms.length}).` : "",
    "",
    ...o.results.flatMap((r) => [variantMarkdown(r, o.n), ""]),
    `Checked: every wave renewed all ${fmt(o.n)} identities (a new certificate for every workload, counted at the SDS server), the CA's store holds the certificates issued during each wave (row above), each sampled socket served the certificate the agent holds, the sample clients validated every push, and no identity was withdrawn as expired.`,
  ].join("\n");
}
