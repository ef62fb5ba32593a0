/**
 * Fixtures of the sds-fanout benchmark: a distinct SVID and key per workload
 * (issued by a throw-away CA before any timing), the trust bundles of a CA
 * rotation (old root, then old + a new root per run), and the baseline: plain
 * `ws` servers on their own Unix sockets that broadcast one frame to everyone.
 */
import { createServer, type Server } from "node:http";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { WebSocketServer, type WebSocket } from "ws";
import { CertificateAuthority, chainPem } from "../pki/ca.js";
import { mintCa } from "../pki/ca-material.js";
import { generateKeyPair, privateKeyToPem } from "../pki/keys.js";
import { pemEncode } from "../pki/pem.js";
import { SECRET_TYPE_URL, buildResources, type WorkloadSecrets } from "../sds-server/protocol.js";
import { BENCH_PASSPHRASE, BENCH_TRUST_DOMAIN } from "./lib/ca-setup.js";

export interface FanoutFixture {
  /** Workload names, w0000…, one socket each. */
  names: string[];
  leaves: NonNullable<WorkloadSecrets["default"]>[];
  /** The bundle before the rotation: the old root alone. */
  initialBundle: string;
  /** One bundle per run: the old root plus a fresh root, as when a new CA is prepared. */
  bundles: string[];
  /** Bytes of one SDS push (default + ROOTCA), i.e. the baseline's frame size. */
  frameBytes: number;
}

export function makeFixture(dir: string, workloads: number, runs: number): FanoutFixture {
  const ca = CertificateAuthority.init(join(dir, "ca"), { trustDomain: BENCH_TRUST_DOMAIN, passphrase: BENCH_PASSPHRASE, keyType: "ec-p256" });
  try {
    const names: string[] = [];
    const leaves: FanoutFixture["leaves"] = [];
    for (let i = 0; i < workloads; i++) {
      const name = `w${String(i).padStart(4, "0")}`;
      const keys = generateKeyPair("ec-p256");
      const svid = ca.issue({ spiffeId: `spiffe://${BENCH_TRUST_DOMAIN}/ns/bench/sa/${name}`, publicKey: keys.publicKey, node: "bench-node", kind: "workload" });
      names.push(name);
      leaves.push({ certificateChainPem: chainPem(svid.chainDer), privateKeyPem: privateKeyToPem(keys.privateKey) });
    }
    const initialBundle = ca.bundlePem();
    const bundles: string[] = [];
    for (let r = 0; r < runs; r++) {
      const next = mintCa({ trustDomain: BENCH_TRUST_DOMAIN, keyType: "ec-p256", now: new Date(), ttlSeconds: 86400, backdateSeconds: 60 });
      bundles.push(initialBundle + pemEncode("CERTIFICATE", next.certDer));
    }
    const resources = buildResources({ default: leaves[0], ROOTCA: { trustedCaPem: bundles[0]! } }, ["default", "ROOTCA"])!;
    const frame = JSON.stringify({ version_info: "2", nonce: "0".repeat(32), type_url: SECRET_TYPE_URL, resources });
    return { names, leaves, initialBundle, bundles, frameBytes: Buffer.byteLength(frame) };
  } finally {
    ca.close();
  }
}

/** Plain `ws` servers, one per Unix socket, for the baseline broadcast. */
export class BroadcastServers {
  private readonly servers: { http: Server; wss: WebSocketServer }[] = [];
  private readonly clients = new Set<WebSocket>();

  static async start(dir: string, names: readonly string[]): Promise<BroadcastServers> {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const b = new BroadcastServers();
    for (const name of names) {
      const http = createServer((_req, res) => res.writeHead(426).end());
      const wss = new WebSocketServer({ server: http, perMessageDeflate: false, clientTracking: false });
      wss.on("connection", (ws) => {
        b.clients.add(ws);
        ws.on("error", () => undefined);
        ws.once("close", () => b.clients.delete(ws));
      });
      b.servers.push({ http, wss });
      await new Promise<void>((resolve, reject) => {
        http.once("error", reject);
        http.listen(join(dir, `${name}.sock`), () => resolve());
      });
    }
    return b;
  }

  get connected(): number {
    return this.clients.size;
  }

  /** The same frame to every client, as a `ws` broadcast loop does. */
  broadcast(frame: string): void {
    for (const ws of this.clients) ws.send(frame);
  }

  async close(): Promise<void> {
    for (const ws of this.clients) ws.terminate();
    await Promise.all(
      this.servers.map(
        ({ http, wss }) =>
          new Promise<void>((resolve) => {
            wss.close();
            http.close(() => resolve());
            http.closeAllConnections();
          }),
      ),
    );
  }
}
