/**
 * Identities for benchmark sidecars: a sidecar waits for an identity before
 * it listens, so an in-process CA issues one SVID per workload and an
 * in-process SdsServer hands it over as an agent would.
 */
import { join } from "node:path";
import { CertificateAuthority, chainPem } from "../../pki/ca.js";
import { generateKeyPair, privateKeyToPem } from "../../pki/keys.js";
import { SdsServer } from "../../sds-server/server.js";
import { BENCH_PASSPHRASE, BENCH_TRUST_DOMAIN } from "./ca-setup.js";
import type { BenchContext } from "./types.js";

/** One CA (under dir/ca), one SdsServer (under dir/sds), one workload per sidecar. */
export class SdsIdentities {
  private sds: SdsServer | undefined;
  private readonly caDir: string;

  constructor(
    private readonly ctx: BenchContext,
    private readonly dir: string,
  ) {
    this.caDir = join(dir, "ca");
  }

  /** The SPIFFE ID `socketFor(workload)` issues. */
  static spiffeId(workload: string): string {
    return `spiffe://${BENCH_TRUST_DOMAIN}/ns/bench/sa/${workload}`;
  }

  /** Issues an SVID for `workload` and returns the SDS socket that serves it. */
  async socketFor(workload: string): Promise<string> {
    if (!this.sds) {
      CertificateAuthority.init(this.caDir, { trustDomain: BENCH_TRUST_DOMAIN, passphrase: BENCH_PASSPHRASE, keyType: "ec-p256" }).close();
      const sds = new SdsServer({ dir: join(this.dir, "sds") });
      this.ctx.onCleanup(() => sds.close());
      this.sds = sds;
    }
    const ca = CertificateAuthority.open(this.caDir, { passphrase: BENCH_PASSPHRASE });
    let secrets;
    try {
      const keys = generateKeyPair("ec-p256");
      const svid = ca.issue({ spiffeId: SdsIdentities.spiffeId(workload), publicKey: keys.publicKey, kind: "workload", ttlSeconds: 3 * 3600 });
      secrets = { default: { certificateChainPem: chainPem(svid.chainDer), privateKeyPem: privateKeyToPem(keys.privateKey) }, ROOTCA: { trustedCaPem: ca.bundlePem() } };
    } finally {
      ca.close();
    }
    await this.sds.addWorkload(workload);
    this.sds.setSecrets(workload, secrets);
    return this.sds.socketPath(workload);
  }
}
