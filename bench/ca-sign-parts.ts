/**
 * Where a signing's time goes: each step of the signing path timed on its own
 * (same machine, same run), on a separate CA so the main figures are not
 * disturbed. The parts are the public functions the path is built from.
 */
import { randomBytes, sign as cryptoSign, verify as cryptoVerify } from "node:crypto";
import { trustBundle } from "../pki/bundle.js";
import { buildCertificate } from "../pki/certificate.js";
import { parseCsr } from "../pki/csr.js";
import { publicKeyFromSpki } from "../pki/keys.js";
import { randomSerial, serialHex } from "../pki/serial.js";
import { BENCH_NODE, BENCH_WORKLOAD_ID, createBenchCa, type CsrPool } from "./lib/ca-setup.js";
import { loopSync } from "./lib/loop.js";
import { median } from "./lib/stats.js";
import type { BenchContext } from "./lib/types.js";

export interface Part {
  name: string;
  /** Median µs per call over the runs. */
  us: number;
  /** Part of the signing path itself (false: the HTTPS layer, or a sub-step of another row). */
  inSignPath: boolean;
  note?: string;
}

export function measureParts(ctx: BenchContext, pool: CsrPool, runs: number, count: number): Part[] {
  const bench = createBenchCa(`${ctx.tempDir("ca-sign-parts-")}/ca`);
  try {
    const { ca, audit } = bench;
    const issuer = ca.issuerFor(ca.activeCa());
    const caId = ca.activeCa().id;
    const n = Math.min(count, pool.csrs.length);
    const parsed = pool.csrs.slice(0, n).map((c) => parseCsr(c));
    // a signature by each CSR key, made before timing, to time the verify alone
    const signed = parsed.map((p, i) => {
      const data = randomBytes(300);
      return { data, sig: cryptoSign("sha256", data, pool.keys[i]!.privateKey), key: p.publicKey };
    });
    const now = new Date();
    const notAfter = new Date(now.getTime() + 3600_000);
    const cert = buildCertificate({ serial: randomSerial(), publicKey: parsed[0]!.spkiDer, notBefore: now, notAfter, kind: "leaf", spiffeId: BENCH_WORKLOAD_ID }, issuer);

    const steps: { name: string; inSignPath: boolean; note?: string; fn: (i: number) => void }[] = [
      { name: "parse + verify the CSR (`parseCsr`)", inSignPath: true, fn: (i) => void parseCsr(pool.csrs[i % n]!) },
      { name: "  of which: import its P-256 public key (`publicKeyFromSpki`)", inSignPath: false, fn: (i) => void publicKeyFromSpki(parsed[i % n]!.spkiDer) },
      { name: "  of which: ECDSA P-256 verify", inSignPath: false, fn: (i) => void cryptoVerify("sha256", signed[i % n]!.data, signed[i % n]!.key, signed[i % n]!.sig) },
      { name: "registration entry lookup (`store.entryFor`)", inSignPath: true, fn: () => void ca.store.entryFor(BENCH_NODE, BENCH_WORKLOAD_ID) },
      { name: "active CA lookup (`ca.activeCa`)", inSignPath: true, fn: () => void ca.activeCa() },
      { name: "build + sign the leaf (`buildCertificate`)", inSignPath: true, fn: (i) => void buildCertificate({ serial: randomSerial(), publicKey: parsed[i % n]!.spkiDer, notBefore: now, notAfter, kind: "leaf", spiffeId: BENCH_WORKLOAD_ID }, issuer) },
      {
        name: "store the certificate (`store.insertCertificate`, one commit)",
        inSignPath: true,
        fn: () => ca.store.insertCertificate({ serial: serialHex(randomSerial()), caId, spiffeId: BENCH_WORKLOAD_ID, node: BENCH_NODE, kind: "workload", notBefore: now, notAfter, issuedAt: now, certDer: cert }),
      },
      {
        name: "audit event (`AuditLog.append`, one commit)",
        inSignPath: true,
        fn: (i) => void audit.append({ component: "ca", action: "ca.sign", outcome: "success", actor: `node:${BENCH_NODE}`, subject: BENCH_WORKLOAD_ID, details: { serial: String(i), kind: "workload", not_after: notAfter.toISOString() } }),
      },
      { name: "trust bundle (`trustBundle`), built for every HTTPS reply", inSignPath: false, note: "HTTPS only", fn: () => void trustBundle(ca) },
    ];

    const out: Part[] = [];
    for (const s of steps) {
      loopSync({ count: Math.min(100, count), maxMs: 5000 }, s.fn); // warm-up
      const us: number[] = [];
      for (let r = 0; r < runs; r++) {
        const res = loopSync({ count, maxMs: 10_000 }, s.fn);
        if (res.failed > 0 || res.done === 0) throw new Error(`${s.name}: ${res.firstError ?? "nothing completed"}`);
        us.push((res.elapsedMs * 1000) / res.done);
      }
      out.push({ name: s.name, us: median(us), inSignPath: s.inSignPath, note: s.note });
    }
    return out;
  } finally {
    bench.close();
  }
}
