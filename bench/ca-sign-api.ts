/**
 * CSR signing through the CA's HTTPS API: `mesh ca serve` in a child process
 * (pinned to one CPU when taskset exists), a node attested with a join token,
 * and /v1/sign driven over mTLS keep-alive connections from this process.
 * GET /healthz on the same connections is the transport baseline.
 */
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import { AuditLog } from "../audit/store.js";
import { trustBundle } from "../pki/bundle.js";
import { buildCsr } from "../pki/csr.js";
import { generateKeyPair, privateKeyToPem } from "../pki/keys.js";
import { createJoinToken } from "../pki/node-api.js";
import { CaStore } from "../pki/store/ca-store.js";
import { BENCH_NODE, BENCH_PASSPHRASE, BENCH_WORKLOAD_ID, createBenchCa, type CsrPool } from "./lib/ca-setup.js";
import { expectStatus, keepAliveAgent, send, type Target } from "./lib/https-client.js";
import { loopConcurrent, perSecond, type TimedLoopResult } from "./lib/loop.js";
import { allowedCpus, pinSelf, selfCpuSeconds, startPeer } from "./lib/process.js";
import { fmt, percentile } from "./lib/stats.js";
import type { BenchContext } from "./lib/types.js";

export interface ApiPlan {
  runs: number;
  /** Signings per run. */
  count: number;
  /** Requests in flight (= keep-alive connections). */
  concurrency: number;
  warmup: number;
  maxMsPerLoop: number;
}

export interface ApiRun {
  signPerSec: number;
  p50Ms: number;
  p99Ms: number;
  healthPerSec: number;
  /** CPU cores busy on average during the signing loop. */
  serverCores: number;
  clientCores: number;
  /** Signings per CPU-second of the server process. */
  perServerCpuSecond: number;
}

export interface ApiResult {
  plan: ApiPlan;
  runs: ApiRun[];
  truncated: boolean;
  /** "server on CPU 1, client on CPU 0", or why not. */
  placement: string;
  checks: string[];
}

function checked(r: TimedLoopResult, what: string): TimedLoopResult {
  if (r.failed > 0) throw new Error(`${what}: ${r.failed} failed requests, first: ${r.firstError}`);
  if (r.done === 0) throw new Error(`${what}: no request completed`);
  return r;
}

export async function runThroughApi(ctx: BenchContext, pool: CsrPool, plan: ApiPlan): Promise<ApiResult> {
  const dir = ctx.tempDir("ca-sign-api-");
  const caDir = join(dir, "ca");
  const setup = createBenchCa(caDir);
  const { token } = createJoinToken(setup.ca, BENCH_NODE, 600);
  const bundlePem = trustBundle(setup.ca).pem;
  setup.close(); // the server process owns the CA from here

  // the server gets the last allowed CPU, this process (the client) the first
  const cpus = allowedCpus();
  const split = cpus !== undefined && cpus.length >= 2;
  const serverCpu = split ? String(cpus[cpus.length - 1]) : undefined;
  const clientCpu = split ? String(cpus[0]) : undefined;
  const mesh = join(ctx.repoRoot, "dist/cli/main.js");
  const readyFile = join(dir, "ready.json");
  ctx.log("api: starting `mesh ca serve` in a child process");
  const server = await startPeer({
    command: process.execPath,
    args: [...ctx.peerNodeFlags, mesh, "ca", "serve", "--dir", caDir, "--listen", "127.0.0.1:0", "--ready-file", readyFile, "--sign-rate", "100000", "--sign-burst", "100000", "--log-level", "warn"],
    env: { ...process.env, MESH_CA_PASSPHRASE: BENCH_PASSPHRASE },
    readyFile,
    readyTimeoutMs: 30_000,
    cpuList: serverCpu,
  });
  ctx.onCleanup(() => server.stop());
  const port = (server.ready as { port?: unknown }).port;
  if (typeof port !== "number" || port <= 0) throw new Error(`the ready file holds no port: ${JSON.stringify(server.ready)}`);
  const target: Target = { host: "127.0.0.1", port, servername: "localhost" };

  // attestation: the node's first call, with no client certificate yet
  const nodeKeys = generateKeyPair("ec-p256");
  const anon = keepAliveAgent({ ca: bundlePem, maxSockets: 1 });
  const attested = await expectStatus(send(anon, target, "POST", "/v1/attest", JSON.stringify({ token, csr: buildCsr(nodeKeys) })));
  anon.destroy();
  const nodeChain = (JSON.parse(attested.body) as { svid_chain: string }).svid_chain;

  const agent = keepAliveAgent({ ca: bundlePem, cert: nodeChain, key: privateKeyToPem(nodeKeys.privateKey), maxSockets: plan.concurrency });
  ctx.onCleanup(() => agent.destroy());
  const bodies = pool.csrs.map((csr) => JSON.stringify({ spiffe_id: BENCH_WORKLOAD_ID, csr }));
  let lastReply = "";
  let lastIndex = -1;
  const signOne = async (i: number) => {
    const k = i % bodies.length;
    const r = await expectStatus(send(agent, target, "POST", "/v1/sign", bodies[k]));
    lastReply = r.body;
    lastIndex = k;
  };
  const healthOne = async () => void (await expectStatus(send(agent, target, "GET", "/healthz", undefined)));
  const bounds = (count: number) => ({ count, concurrency: plan.concurrency, maxMs: Math.max(1000, Math.min(plan.maxMsPerLoop, ctx.deadline - Date.now() - 60_000)) });

  // The client gets the other core, so the two do not take turns on the server's.
  const restore = clientCpu !== undefined ? pinSelf(clientCpu) : undefined;
  const unpin = restore ?? (() => undefined);
  ctx.onCleanup(unpin);
  const placement = !split
    ? "not pinned: taskset is missing or only one CPU is allowed, so server and client share the CPUs"
    : `server pinned to CPU ${serverCpu}, client (this process) ${restore ? `to CPU ${clientCpu}` : "not pinned (taskset refused)"}`;

  const out: ApiResult = { plan, runs: [], truncated: false, placement, checks: [] };
  let signed = 0;
  try {
    ctx.log(`api: warm-up (${plan.warmup} signings, ${plan.concurrency} connections)`);
    signed += checked(await loopConcurrent(bounds(plan.warmup), signOne), "warm-up").done;
    checked(await loopConcurrent(bounds(plan.warmup), healthOne), "warm-up healthz");
    for (let r = 0; r < plan.runs; r++) {
      const health = checked(await loopConcurrent(bounds(plan.count), healthOne), "healthz");
      const s0 = server.cpuSeconds();
      const c0 = selfCpuSeconds();
      const s = checked(await loopConcurrent(bounds(plan.count), signOne), "sign");
      const serverCpuSec = server.cpuSeconds() - s0;
      const clientCpuSec = selfCpuSeconds() - c0;
      signed += s.done;
      out.truncated ||= health.truncated || s.truncated;
      const run: ApiRun = {
        signPerSec: perSecond(s),
        p50Ms: percentile(s.latenciesMs, 50),
        p99Ms: percentile(s.latenciesMs, 99),
        healthPerSec: perSecond(health),
        serverCores: (serverCpuSec * 1000) / s.elapsedMs,
        clientCores: (clientCpuSec * 1000) / s.elapsedMs,
        perServerCpuSecond: s.done / serverCpuSec,
      };
      out.runs.push(run);
      ctx.log(`api run ${r + 1}/${plan.runs}: ${run.signPerSec.toFixed(0)} signings/s, p50 ${run.p50Ms.toFixed(1)} ms, p99 ${run.p99Ms.toFixed(1)} ms, server ${run.serverCores.toFixed(2)} cores, healthz ${run.healthPerSec.toFixed(0)}/s`);
    }
  } finally {
    unpin();
    agent.destroy();
    await server.stop();
  }

  // The reply is a real SVID for the CSR's key, and every signing left its rows behind.
  const reply = JSON.parse(lastReply) as { svid_chain: string; spiffe_id: string };
  const leaf = new X509Certificate(reply.svid_chain);
  const root = new X509Certificate(bundlePem);
  if (!leaf.verify(root.publicKey) || leaf.subjectAltName !== `URI:${BENCH_WORKLOAD_ID}` || !leaf.checkPrivateKey(pool.keys[lastIndex]!.privateKey)) {
    throw new Error("the last SVID returned by /v1/sign does not check out");
  }
  const store = CaStore.open(join(caDir, "ca.db"));
  const rows = store.listCertificates({}).filter((c) => c.kind === "workload").length;
  store.close();
  const audit = AuditLog.open(join(caDir, "audit.db"), { readonly: true });
  const events = audit.count();
  audit.close();
  if (rows !== signed) throw new Error(`store holds ${rows} workload certificates, expected ${signed}`);
  if (events < signed) throw new Error(`audit log holds ${events} events, expected at least ${signed}`);
  out.checks.push(`${fmt(rows)} workload certificates in the store and ${fmt(events)} audit events for ${fmt(signed)} signings`, "last SVID verified against the root, URI SAN and key match the CSR");
  return out;
}
