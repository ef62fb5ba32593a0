/**
 * A CA as production runs it (encrypted key, SQLite store in WAL mode, a real
 * audit log file) in a temp dir, a node with a registered workload, and
 * CSRs made before any timing starts.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { AuditLog } from "../../audit/store.js";
import { CertificateAuthority } from "../../pki/ca.js";
import { buildCsr } from "../../pki/csr.js";
import { generateKeyPair, type KeyPair } from "../../pki/keys.js";
import { createEntry } from "../../pki/node-api.js";

export const BENCH_TRUST_DOMAIN = "bench.example";
export const BENCH_NODE = "bench-node";
export const BENCH_WORKLOAD_ID = `spiffe://${BENCH_TRUST_DOMAIN}/ns/bench/sa/signer`;
/** Not a secret: the CA lives in a temp dir for the length of one benchmark. */
export const BENCH_PASSPHRASE = "bench-passphrase-not-secret";

export interface BenchCa {
  /** The CA directory (ca.db, keys, audit.db), laid out as `mesh ca init` makes it. */
  caDir: string;
  ca: CertificateAuthority;
  audit: AuditLog;
  close(): void;
}

/** Creates the CA with its audit log at <caDir>/audit.db (where `mesh ca serve` looks) and registers the workload. */
export function createBenchCa(caDir: string): BenchCa {
  mkdirSync(caDir, { recursive: true, mode: 0o700 });
  const audit = AuditLog.open(join(caDir, "audit.db"));
  const ca = CertificateAuthority.init(caDir, { trustDomain: BENCH_TRUST_DOMAIN, passphrase: BENCH_PASSPHRASE, audit, keyType: "ec-p256" });
  createEntry(ca, { spiffeId: BENCH_WORKLOAD_ID, node: BENCH_NODE, workload: "signer" });
  return {
    caDir,
    ca,
    audit,
    close: () => {
      ca.close();
      audit.close();
    },
  };
}

export interface CsrPool {
  keys: KeyPair[];
  csrs: string[];
}

/** n distinct P-256 keys and their CSRs (with the workload URI SAN, as an agent sends them). */
export function makeCsrs(n: number, spiffeId = BENCH_WORKLOAD_ID): CsrPool {
  const keys: KeyPair[] = [];
  const csrs: string[] = [];
  for (let i = 0; i < n; i++) {
    const k = generateKeyPair("ec-p256");
    keys.push(k);
    csrs.push(buildCsr(k, { spiffeId }));
  }
  return { keys, csrs };
}
