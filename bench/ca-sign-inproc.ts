/**
 * CSR signing inside one process: `NodeApi.sign` on a production-shaped CA
 * (encrypted key, SQLite WAL store, audit log file), against the raw
 * node:crypto cost of the same ECDSA P-256 key measured in the same runs.
 */
import { randomBytes, sign as cryptoSign, verify as cryptoVerify, X509Certificate } from "node:crypto";
import type { IssuedSvid } from "../pki/ca.js";
import { NodeApi } from "../pki/node-api.js";
import { nodeSpiffeId } from "../pki/spiffe-id.js";
import { BENCH_NODE, BENCH_TRUST_DOMAIN, BENCH_WORKLOAD_ID, createBenchCa, type CsrPool } from "./lib/ca-setup.js";
import { loopSync, perSecond, type LoopResult } from "./lib/loop.js";
import { fmt } from "./lib/stats.js";
import type { BenchContext } from "./lib/types.js";

export interface InProcessPlan {
  runs: number;
  /** Signings per run (CSRs 0..count-1 of the pool). */
  count: number;
  rawOps: number;
  warmup: number;
  maxMsPerLoop: number;
}

export interface InProcessResult {
  plan: InProcessPlan;
  signPerSec: number[];
  rawSignPerSec: number[];
  rawVerifyPerSec: number[];
  /** Signings/s ÷ raw signs/s, run by run. */
  ratio: number[];
  truncated: boolean;
  /** What was checked after the runs (store rows, audit rows, a sample certificate). */
  checks: string[];
}

function checked(r: LoopResult, what: string): LoopResult {
  if (r.failed > 0) throw new Error(`${what}: ${r.failed} failures, first: ${r.firstError}`);
  if (r.done === 0) throw new Error(`${what}: nothing completed`);
  return r;
}

export function runInProcess(ctx: BenchContext, pool: CsrPool, plan: InProcessPlan): InProcessResult {
  const bench = createBenchCa(`${ctx.tempDir("ca-sign-inproc-")}/ca`);
  try {
    const { ca, audit } = bench;
    // the rate limit is a policy knob, not a cost under test: moved out of the way
    const api = new NodeApi(ca, { signRatePerSecond: 1e9, signBurst: 1e9 });
    const caller = nodeSpiffeId(BENCH_TRUST_DOMAIN, BENCH_NODE);
    const caKey = ca.issuerFor(ca.activeCa()).privateKey;
    const data = randomBytes(300);
    const leafKey = pool.keys[0]!;
    const leafSig = cryptoSign("sha256", data, leafKey.privateKey);
    const auditBefore = audit.count();

    let last: IssuedSvid | undefined;
    let lastIndex = -1;
    const signOne = (i: number) => {
      last = api.sign(caller, { spiffe_id: BENCH_WORKLOAD_ID, csr: pool.csrs[i % pool.csrs.length] });
      lastIndex = i % pool.csrs.length;
    };
    const bounds = (count: number) => ({ count, maxMs: Math.max(1000, Math.min(plan.maxMsPerLoop, ctx.deadline - Date.now() - 60_000)) });

    ctx.log(`in-process: warm-up (${plan.warmup} signings)`);
    checked(loopSync(bounds(plan.warmup), signOne), "warm-up");
    loopSync(bounds(plan.rawOps / 4), () => cryptoSign("sha256", data, caKey));

    const out: InProcessResult = { plan, signPerSec: [], rawSignPerSec: [], rawVerifyPerSec: [], ratio: [], truncated: false, checks: [] };
    let signed = plan.warmup;
    for (let r = 0; r < plan.runs; r++) {
      // baseline and subject alternate within each run, so drift hits both alike
      const raw = checked(loopSync(bounds(plan.rawOps), () => cryptoSign("sha256", data, caKey)), "raw sign");
      const ver = checked(loopSync(bounds(plan.rawOps), () => {
        if (!cryptoVerify("sha256", data, leafKey.publicKey, leafSig)) throw new Error("verify failed");
      }), "raw verify");
      const s = checked(loopSync(bounds(plan.count), signOne), "sign");
      signed += s.done;
      out.truncated ||= raw.truncated || ver.truncated || s.truncated;
      out.rawSignPerSec.push(perSecond(raw));
      out.rawVerifyPerSec.push(perSecond(ver));
      out.signPerSec.push(perSecond(s));
      out.ratio.push(perSecond(s) / perSecond(raw));
      ctx.log(`in-process run ${r + 1}/${plan.runs}: ${perSecond(s).toFixed(0)} signings/s, raw sign ${perSecond(raw).toFixed(0)}/s`);
    }

    // The figures only count if the work was really done: rows stored, events appended, a valid leaf.
    const rows = ca.store.listCertificates({}).filter((c) => c.kind === "workload").length;
    if (rows !== signed) throw new Error(`store holds ${rows} workload certificates, expected ${signed}`);
    const events = audit.count() - auditBefore;
    if (events < signed) throw new Error(`audit log grew by ${events} events, expected at least ${signed}`);
    if (!last) throw new Error("no certificate was issued");
    const leaf = new X509Certificate(last.chainDer[0]!);
    const caCert = new X509Certificate(ca.activeCa().certDer);
    if (!leaf.verify(caCert.publicKey) || leaf.subjectAltName !== `URI:${BENCH_WORKLOAD_ID}` || !leaf.checkPrivateKey(pool.keys[lastIndex]!.privateKey)) {
      throw new Error("the last issued certificate does not check out");
    }
    out.checks.push(`${fmt(rows)} workload certificates in the store and ${fmt(events)} new audit events for ${fmt(signed)} signings`, "last leaf verified against the CA, URI SAN and key match the CSR");
    return out;
  } finally {
    bench.close();
  }
}
