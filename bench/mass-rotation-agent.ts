/**
 * The agent under test in mass-rotation: a real NodeAgent with its SdsServer
 * in this process, talking to the CA server over HTTPS, with a clock that is
 * real time plus an offset. A renewal wave is one jump of the offset past
 * every identity's renewal time; the SdsServer is subclassed only to note
 * when each workload's new certificate is handed to it (i.e. served).
 */
import { X509Certificate } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { destination, pino } from "pino";
import { AuditLog } from "../audit/store.js";
import { NodeAgent } from "../citadel-agent/agent.js";
import { parseAgentConfig, type AgentConfig } from "../citadel-agent/config.js";
import { AgentMetrics } from "../citadel-agent/metrics.js";
import { normalizeSerial } from "../pki/serial.js";
import { SdsServer, type WorkloadSecrets } from "../sds-server/server.js";
import { nowUs } from "./lib/sds-fleet.js";
import { BENCH_TRUST_DOMAIN } from "./lib/ca-setup.js";
import { ROTATION_NODE, ROTATION_TTL_SECONDS, workloadName, type RotationCa } from "./mass-rotation-setup.js";

/** Notes, per workload, when a certificate other than the one it held was handed over for serving. */
class WatchedSds extends SdsServer {
  readonly chains = new Map<string, string>();
  /** Workload → µs when it got a new chain since arm(). */
  changedAt = new Map<string, number>();
  withdrawn = 0;
  private want = 0;
  private onAll: (() => void) | undefined;

  override setSecrets(name: string, secrets: WorkloadSecrets): void {
    super.setSecrets(name, secrets);
    const chain = secrets.default?.certificateChainPem;
    if (chain === undefined) {
      if (this.chains.has(name)) this.withdrawn++;
      return;
    }
    if (chain === this.chains.get(name)) return;
    this.chains.set(name, chain);
    if (!this.changedAt.has(name)) {
      this.changedAt.set(name, nowUs());
      if (this.changedAt.size === this.want) this.onAll?.();
    }
  }

  /** Resolves when `want` workloads got a new chain, or after timeoutMs (then some are missing). */
  arm(want: number, timeoutMs: number): Promise<void> {
    this.changedAt = new Map();
    this.want = want;
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.onAll = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

export interface AgentVariant {
  label: string;
  /** max_concurrent_signs; undefined keeps the default. */
  maxConcurrentSigns?: number;
}

export interface Phase {
  /** From the start of the phase to the last workload's new certificate handed to SDS, ms (Infinity when not all). */
  ms: number;
  done: number;
  /** Renewals completed in each 250 ms window (the agent's tick) from the start. */
  perWindow: number[];
  failures: number;
  agentCpuS: number;
  caCpuS: number;
  wallFrom: number;
  wallTo: number;
  /** Monotonic µs at the start, comparable with the SDS fleet's times. */
  t0Us: number;
}

export class AgentUnderTest {
  private stopped = false;
  private constructor(
    /** The agent's clock is real time plus shift.ms. */
    private readonly shift: { ms: number },
    readonly cfg: AgentConfig,
    readonly sds: WatchedSds,
    readonly agent: NodeAgent,
    readonly metrics: AgentMetrics,
    private readonly audit: AuditLog,
    readonly n: number,
  ) {}

  static create(dir: string, ca: RotationCa, tokenFile: string, variant: AgentVariant, n: number): AgentUnderTest {
    const dataDir = join(dir, "data");
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const cfg = parseAgentConfig({
      node: ROTATION_NODE,
      trust_domain: BENCH_TRUST_DOMAIN,
      ca: { url: ca.url, bundle_file: ca.bundleFile },
      join_token_file: tokenFile,
      data_dir: dataDir,
      sds_dir: join(dir, "sds"),
      ...(variant.maxConcurrentSigns !== undefined ? { max_concurrent_signs: variant.maxConcurrentSigns } : {}),
    });
    const sds = new WatchedSds({ dir: cfg.sds_dir });
    const audit = AuditLog.open(join(dataDir, "audit.db"));
    const metrics = new AgentMetrics();
    // as `mesh agent` logs (pino, info, synchronous writes), but to a file
    const logger = pino({ level: "info", base: { component: "agent" } }, destination({ dest: join(dir, "agent.log"), sync: true }));
    const shift = { ms: 0 };
    const agent = new NodeAgent({ config: cfg, sds, audit, logger, metrics, clock: () => new Date(Date.now() + shift.ms) });
    return new AgentUnderTest(shift, cfg, sds, agent, metrics, audit, n);
  }

  get offsetMs(): number {
    return this.shift.ms;
  }

  async failures(): Promise<number> {
    const v = (await this.metrics.renewals.get()).values;
    return v.filter((x) => x.labels.kind === "workload" && x.labels.outcome === "failure").reduce((a, x) => a + x.value, 0);
  }

  private async phase(timeoutMs: number, caCpu: () => number, trigger: () => Promise<void>): Promise<Phase> {
    const f0 = await this.failures();
    const done = this.sds.arm(this.n, timeoutMs);
    const a0 = process.cpuUsage();
    const c0 = caCpu();
    const wallFrom = Date.now();
    const t0 = nowUs();
    await trigger();
    await done;
    const times = [...this.sds.changedAt.values()];
    const last = times.length > 0 ? Math.max(...times) : t0;
    const a = process.cpuUsage(a0);
    const perWindow = new Array<number>(Math.ceil((last - t0) / 250_000) || 1).fill(0);
    for (const t of times) perWindow[Math.min(perWindow.length - 1, Math.floor((t - t0) / 250_000))]!++;
    return {
      ms: times.length === this.n ? (last - t0) / 1000 : Number.POSITIVE_INFINITY,
      done: times.length,
      perWindow,
      failures: (await this.failures()) - f0,
      agentCpuS: (a.user + a.system) / 1e6,
      caCpuS: caCpu() - c0,
      wallFrom,
      wallTo: Date.now(),
      t0Us: t0,
    };
  }

  /** (a) Start the agent (attest, sync, one socket per entry) and wait until every workload is served a certificate. */
  initial(timeoutMs: number, caCpu: () => number): Promise<Phase & { startMs: number }> {
    let startMs = 0;
    return this.phase(timeoutMs, caCpu, async () => {
      const t = performance.now();
      await this.agent.start();
      startMs = performance.now() - t;
    }).then((p) => ({ ...p, startMs }));
  }

  /**
   * Offset after which every identity held is due: each was issued at offset
   * O with a life of TTL − O on the agent's clock and renews at most at
   * fraction + jitter of it. The result stays below the TTL, so nothing held
   * expires on the shifted clock during the wave.
   */
  nextOffset(): number {
    const ttl = ROTATION_TTL_SECONDS * 1000;
    const f = Math.min(0.95, this.cfg.renewal.fraction + this.cfg.renewal.jitter);
    return Math.ceil(this.offsetMs + f * (ttl - this.offsetMs) + 1000);
  }

  /** Shifted-clock lifetime left after the next jump (ms): a wave needs several minutes of it. */
  headroomMs(): number {
    return ROTATION_TTL_SECONDS * 1000 - this.nextOffset();
  }

  /** (b) One wave: jump the clock past every renewal time, wait until every workload is served a new certificate. */
  wave(timeoutMs: number, caCpu: () => number): Promise<Phase> {
    return this.phase(timeoutMs, caCpu, async () => {
      this.shift.ms = this.nextOffset();
    });
  }

  /** Serial of the certificate the agent currently serves to workload i. */
  servedSerial(i: number): string | undefined {
    const chain = this.sds.chains.get(workloadName(i));
    return chain === undefined ? undefined : normalizeSerial(new X509Certificate(chain).serialNumber);
  }

  nodeSvid(): { certPem: string; keyPem: string } {
    return { certPem: readFileSync(join(this.cfg.data_dir, "node.pem"), "utf8"), keyPem: readFileSync(join(this.cfg.data_dir, "node.key"), "utf8") };
  }

  /** Idempotent. Renewals still in flight fail fast once the agent's CA client is closed; they get a moment to finish before SDS and the audit log close. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.agent.stop();
    await sleep(500);
    await this.sds.close();
    this.audit.close();
  }
}
