/** A CA in a temp dir with a test clock and its own audit log, for pki tests. */
import { join } from "node:path";
import { AuditLog } from "../../audit/store.js";
import { CertificateAuthority } from "../../pki/ca.js";
import type { UpstreamPem } from "../../pki/ca-material.js";
import { PASSPHRASE, removeDir, tempDir, TestClock } from "../helpers/env.js";

export interface CaFixture {
  dir: string;
  caDir: string;
  clock: TestClock;
  audit: AuditLog;
  ca: CertificateAuthority;
  cleanup: () => void;
}

export function makeCa(opts: { keyType?: string; upstream?: UpstreamPem; trustDomain?: string; clock?: TestClock } = {}): CaFixture {
  const dir = tempDir();
  const clock = opts.clock ?? new TestClock();
  const audit = AuditLog.open(join(dir, "audit.db"), { clock: clock.now });
  const caDir = join(dir, "ca");
  const ca = CertificateAuthority.init(caDir, { trustDomain: opts.trustDomain ?? "example.org", passphrase: PASSPHRASE, clock: clock.now, audit, keyType: opts.keyType, upstream: opts.upstream });
  return {
    dir,
    caDir,
    clock,
    audit,
    ca,
    cleanup: () => {
      ca.close();
      audit.close();
      removeDir(dir);
    },
  };
}
