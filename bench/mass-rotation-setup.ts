/**
 * The CA side of mass-rotation: a CA directory with N registration entries
 * for one node, join tokens, `mesh ca serve` in a child process with the
 * per-node CSR rate limit raised out of the way, and the baseline load
 * client (a second node signing pre-made CSRs over the same HTTPS API).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Agent } from "node:https";
import Database from "better-sqlite3";
import { AuditLog } from "../audit/store.js";
import { trustBundle } from "../pki/bundle.js";
import { CertificateAuthority } from "../pki/ca.js";
import { buildCsr } from "../pki/csr.js";
import { generateKeyPair, privateKeyToPem } from "../pki/keys.js";
import { createEntry, createJoinToken } from "../pki/node-api.js";
import { BENCH_PASSPHRASE, BENCH_TRUST_DOMAIN, makeCsrs } from "./lib/ca-setup.js";
import { expectStatus, keepAliveAgent, send, type Target } from "./lib/https-client.js";
import { loopConcurrent, type TimedLoopResult } from "./lib/loop.js";
import { startPeer, type PeerProcess } from "./lib/process.js";
import type { BenchContext } from "./lib/types.js";

export const ROTATION_NODE = "bench-node";
const LOAD_NODE = "bench-load";
const LOAD_ID = `spiffe://${BENCH_TRUST_DOMAIN}/ns/bench/sa/load`;
/** Leaf and node TTL: the longest the CA allows, so that every wave fits in one lifetime of the agent's shifted clock. */
export const ROTATION_TTL_SECONDS = 86400;
/** Per-node CSR limit of the served CA, raised from the default 500/s (burst 1,000) so it cannot be what limits a wave. */
export const SIGN_RATE = 100_000;

export const workloadName = (i: number): string => `w${String(i).padStart(5, "0")}`;
export const workloadId = (i: number): string => `spiffe://${BENCH_TRUST_DOMAIN}/ns/bench/sa/${workloadName(i)}`;

export interface RotationCa {
  caDir: string;
  bundlePem: string;
  bundleFile: string;
  /** One single-use join token of ROTATION_NODE per agent to be started. */
  tokenFiles: string[];
  server: PeerProcess;
  url: string;
  target: Target;
  /** Time to create the N entries (each also an audit event), ms. */
  entriesMs: number;
  placement: string;
}

/** Creates the CA with `n` entries for ROTATION_NODE (plus one for the load node) and serves it, pinned to cpuList when given. */
export async function startRotationCa(ctx: BenchContext, dir: string, n: number, agents: number, cpuList: string | undefined): Promise<RotationCa & { loadToken: string }> {
  const caDir = join(dir, "ca");
  mkdirSync(caDir, { recursive: true, mode: 0o700 });
  const audit = AuditLog.open(join(caDir, "audit.db"));
  const ca = CertificateAuthority.init(caDir, {
    trustDomain: BENCH_TRUST_DOMAIN,
    passphrase: BENCH_PASSPHRASE,
    audit,
    keyType: "ec-p256",
    settings: { leafTtlSeconds: ROTATION_TTL_SECONDS, nodeTtlSeconds: ROTATION_TTL_SECONDS },
  });
  const t0 = Date.now();
  for (let i = 0; i < n; i++) createEntry(ca, { spiffeId: workloadId(i), node: ROTATION_NODE, workload: workloadName(i) });
  const entriesMs = Date.now() - t0;
  createEntry(ca, { spiffeId: LOAD_ID, node: LOAD_NODE, workload: "load" });
  const tokenFiles = Array.from({ length: agents }, (_, k) => {
    const f = join(dir, `token-${k}`);
    writeFileSync(f, createJoinToken(ca, ROTATION_NODE, 7200).token + "\n", { mode: 0o600 });
    return f;
  });
  const loadToken = createJoinToken(ca, LOAD_NODE, 7200).token;
  const bundlePem = trustBundle(ca).pem;
  const bundleFile = join(dir, "bundle.pem");
  writeFileSync(bundleFile, bundlePem);
  ca.close();
  audit.close(); // the server process owns the CA from here

  const readyFile = join(dir, "ca-ready.json");
  const mesh = join(ctx.repoRoot, "dist/cli/main.js");
  const server = await startPeer({
    command: process.execPath,
    args: [...ctx.peerNodeFlags, mesh, "ca", "serve", "--dir", caDir, "--listen", "127.0.0.1:0", "--ready-file", readyFile, "--sign-rate", String(SIGN_RATE), "--sign-burst", String(SIGN_RATE), "--log-level", "warn"],
    env: { ...process.env, MESH_CA_PASSPHRASE: BENCH_PASSPHRASE },
    readyFile,
    readyTimeoutMs: 30_000,
    cpuList,
  });
  ctx.onCleanup(() => server.stop());
  const ready = server.ready as { port?: unknown; url?: unknown };
  if (typeof ready.port !== "number" || typeof ready.url !== "string") throw new Error(`the CA's ready file holds no port/url: ${JSON.stringify(ready)}`);
  const placement = cpuList !== undefined ? `CA server pinned to CPU ${cpuList}` : "CA server not pinned";
  return { caDir, bundlePem, bundleFile, tokenFiles, server, url: ready.url, target: { host: "127.0.0.1", port: ready.port, servername: "localhost" }, entriesMs, placement, loadToken };
}

/** Certificates the CA issued to ROTATION_NODE's workloads in [fromMs, toMs] (wall clock of the CA), read from its store. */
export function issuedBetween(caDir: string, fromMs: number, toMs: number): number {
  const db = new Database(join(caDir, "ca.db"), { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare("SELECT COUNT(*) AS n FROM certificates WHERE node = ? AND kind = 'workload' AND issued_at BETWEEN ? AND ?").get(ROTATION_NODE, fromMs, toMs) as { n: number };
    return row.n;
  } finally {
    db.close();
  }
}

/**
 * The baseline: another node signing pre-made CSRs through the same API,
 * over as many keep-alive connections as the agent's CA client uses (8),
 * so the CA's raw rate with no agent work in between is known.
 */
export class SignLoad {
  private constructor(
    private readonly agent: Agent,
    private readonly target: Target,
    private readonly bodies: string[],
    readonly concurrency: number,
  ) {}

  static async attest(ctx: BenchContext, ca: RotationCa, token: string, csrs: number, concurrency: number): Promise<SignLoad> {
    const keys = generateKeyPair("ec-p256");
    const anon = keepAliveAgent({ ca: ca.bundlePem, maxSockets: 1 });
    const r = await expectStatus(send(anon, ca.target, "POST", "/v1/attest", JSON.stringify({ token, csr: buildCsr(keys) })));
    anon.destroy();
    const chain = (JSON.parse(r.body) as { svid_chain: string }).svid_chain;
    const agent = keepAliveAgent({ ca: ca.bundlePem, cert: chain, key: privateKeyToPem(keys.privateKey), maxSockets: concurrency });
    ctx.onCleanup(() => agent.destroy());
    const bodies = makeCsrs(csrs, LOAD_ID).csrs.map((csr) => JSON.stringify({ spiffe_id: LOAD_ID, csr }));
    return new SignLoad(agent, ca.target, bodies, concurrency);
  }

  run(count: number, maxMs: number): Promise<TimedLoopResult> {
    return loopConcurrent({ count, concurrency: this.concurrency, maxMs }, async (i) => {
      await expectStatus(send(this.agent, this.target, "POST", "/v1/sign", this.bodies[i % this.bodies.length]));
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** One GET /v1/entries as the rotation node (its SVID from the agent's data dir): what each sync costs the CA. */
export async function timeEntriesFetch(ca: RotationCa, certPem: string, keyPem: string, times: number): Promise<{ ms: number[]; bytes: number; entries: number }> {
  const agent = keepAliveAgent({ ca: ca.bundlePem, cert: certPem, key: keyPem, maxSockets: 1 });
  try {
    const ms: number[] = [];
    let body = "";
    for (let i = 0; i < times; i++) {
      const t0 = performance.now();
      body = (await expectStatus(send(agent, ca.target, "GET", "/v1/entries", undefined, 30_000))).body;
      ms.push(performance.now() - t0);
    }
    return { ms, bytes: Buffer.byteLength(body), entries: (JSON.parse(body) as { entries: unknown[] }).entries.length };
  } finally {
    agent.destroy();
  }
}
