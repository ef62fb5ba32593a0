/**
 * The proxy-pair topology, all on loopback, around one app process:
 *  direct: client → app
 *  ours:   client → sidecar A (outbound, HTTP) → mTLS → sidecar B (inbound) → app
 *  nginx:  client → nginx A (HTTP) → mTLS → nginx B (ssl_verify_client) → app
 * Identities come from an in-process CA: X509-SVIDs for the sidecars, handed
 * over by an in-process SdsServer exactly as an agent would; certificates
 * with a DNS SAN for nginx (which checks host names, not SPIFFE IDs), from
 * the same CA. Every child is stopped by ctx.onCleanup.
 */
import { LEAN_ENV, LEAN_NODE_FLAGS } from "../cli/demo/children.js";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CertificateAuthority, chainPem } from "../pki/ca.js";
import { generateKeyPair, privateKeyToPem, writeSecretFile } from "../pki/keys.js";
import { SdsServer } from "../sds-server/server.js";
import { BENCH_PASSPHRASE, BENCH_TRUST_DOMAIN } from "./lib/ca-setup.js";
import { httpGet } from "./lib/http-get.js";
import { freePort, listenerPort, meshProxyConfig, startMeshProxy } from "./lib/mesh-proxy.js";
import { nginxInboundConfig, nginxOutboundConfig, startNginx, type NginxProcess, type NginxTls } from "./lib/nginx.js";
import { startPeer, type PeerProcess } from "./lib/process.js";
import type { BenchContext } from "./lib/types.js";

/** Size of the app's response body. */
export const BODY_BYTES = 100;
/** Worker processes per nginx instance: one, as each sidecar is one Node.js process. */
export const NGINX_WORKERS = 1;
export const CLIENT_ID = `spiffe://${BENCH_TRUST_DOMAIN}/ns/bench/sa/pair-client`;
export const SERVER_ID = `spiffe://${BENCH_TRUST_DOMAIN}/ns/bench/sa/pair-server`;

export type TargetName = "direct" | "ours" | "nginx";
export const TARGETS: readonly TargetName[] = ["direct", "ours", "nginx"];

export interface AppCounts {
  direct: number;
  mesh: number;
  nginx: number;
  other: number;
}

export interface PairTopology {
  urls: Record<TargetName, string>;
  app: PeerProcess;
  sidecarA: PeerProcess;
  sidecarB: PeerProcess;
  nginxA: NginxProcess;
  nginxB: NginxProcess;
  counts(): Promise<AppCounts>;
}

interface Issued {
  chainPem: string;
  keyPem: string;
}

function issue(ca: CertificateAuthority, spiffeId: string, dnsNames?: string[]): Issued {
  const keys = generateKeyPair("ec-p256");
  const svid = ca.issue({ spiffeId, publicKey: keys.publicKey, dnsNames, kind: dnsNames ? "server" : "workload", ttlSeconds: 3 * 3600 });
  return { chainPem: chainPem(svid.chainDer), keyPem: privateKeyToPem(keys.privateKey) };
}

function writeTls(dir: string, name: string, c: Issued, caFile: string): NginxTls {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  writeFileSync(certFile, c.chainPem);
  writeSecretFile(keyFile, c.keyPem);
  return { certFile, keyFile, caFile };
}

// as `mesh up` and docs/proxy.md run sidecars: a small young generation, few malloc arenas
const startSidecar = (ctx: BenchContext, dir: string, name: string, config: object): Promise<PeerProcess> =>
  startMeshProxy(ctx, { dir, name, config, nodeFlags: LEAN_NODE_FLAGS, env: { ...process.env, ...LEAN_ENV } });

export async function startTopology(ctx: BenchContext, nginxBin: string): Promise<PairTopology> {
  const dir = ctx.tempDir("proxy-pair-");

  const appReady = join(dir, "app.ready.json");
  const app = await startPeer({
    command: process.execPath,
    args: [join(ctx.repoRoot, "dist/bench/proxy-pair-app.js"), appReady, CLIENT_ID, String(BODY_BYTES)],
    readyFile: appReady,
    readyTimeoutMs: 15_000,
  });
  ctx.onCleanup(() => app.stop());
  const appPort = (app.ready as { port: number }).port;

  ctx.log("issuing identities (in-process CA) and serving them over SDS");
  const ca = CertificateAuthority.init(join(dir, "ca"), { trustDomain: BENCH_TRUST_DOMAIN, passphrase: BENCH_PASSPHRASE, keyType: "ec-p256" });
  let bundle: string;
  let svids: { client: Issued; server: Issued };
  let nginxCerts: { a: Issued; b: Issued };
  try {
    bundle = ca.bundlePem();
    svids = { client: issue(ca, CLIENT_ID), server: issue(ca, SERVER_ID) };
    nginxCerts = { a: issue(ca, `spiffe://${BENCH_TRUST_DOMAIN}/ns/bench/sa/nginx-a`, ["localhost"]), b: issue(ca, `spiffe://${BENCH_TRUST_DOMAIN}/ns/bench/sa/nginx-b`, ["localhost"]) };
  } finally {
    ca.close();
  }
  const sds = new SdsServer({ dir: join(dir, "sds") });
  ctx.onCleanup(() => sds.close());
  for (const [name, s] of [["pair-client", svids.client], ["pair-server", svids.server]] as const) {
    await sds.addWorkload(name);
    sds.setSecrets(name, { default: { certificateChainPem: s.chainPem, privateKeyPem: s.keyPem }, ROOTCA: { trustedCaPem: bundle } });
  }

  ctx.log("starting sidecars B (inbound) and A (outbound)");
  const sidecarB = await startSidecar(
    ctx,
    dir,
    "pair-server",
    // nginx runs with access_log off: the sidecars do too, so both sides do the same work
    meshProxyConfig({
      name: "pair-server",
      sdsSocket: sds.socketPath("pair-server"),
      adminPort: await freePort(),
      listeners: [{ name: "inbound", kind: "inbound", listen: "127.0.0.1:0", routes: [{ name: "app", match: { path: { prefix: "/" } }, cluster: "local_app" }] }],
      clusters: [{ name: "local_app", endpoints: [`127.0.0.1:${appPort}`] }],
    }),
  );
  const bPort = listenerPort(sidecarB, "inbound", "sidecar B");
  const sidecarA = await startSidecar(
    ctx,
    dir,
    "pair-client",
    meshProxyConfig({
      name: "pair-client",
      sdsSocket: sds.socketPath("pair-client"),
      adminPort: await freePort(),
      listeners: [{ name: "outbound", kind: "outbound", listen: "127.0.0.1:0", routes: [{ name: "to-server", match: { path: { prefix: "/" } }, cluster: "pair_server" }] }],
      clusters: [{ name: "pair_server", endpoints: [`127.0.0.1:${bPort}`], spiffe_id: SERVER_ID }],
    }),
  );
  const aPort = listenerPort(sidecarA, "outbound", "sidecar A");

  ctx.log(`starting nginx B (ssl_verify_client) and A (proxy_ssl_verify), ${NGINX_WORKERS} worker each`);
  const certDir = join(dir, "nginx-certs");
  const caFile = join(dir, "nginx-ca.pem");
  writeFileSync(caFile, bundle);
  mkdirSync(certDir, { recursive: true, mode: 0o700 });
  const nbPort = await freePort();
  const nginxB = await startNginx(nginxBin, join(dir, "nginx-b"), nginxInboundConfig({ prefix: join(dir, "nginx-b"), workers: NGINX_WORKERS, listenPort: nbPort, appPort, tls: writeTls(certDir, "b", nginxCerts.b, caFile) }), nbPort);
  ctx.onCleanup(() => nginxB.stop());
  const naPort = await freePort();
  const nginxA = await startNginx(
    nginxBin,
    join(dir, "nginx-a"),
    nginxOutboundConfig({ prefix: join(dir, "nginx-a"), workers: NGINX_WORKERS, listenPort: naPort, upstreamPort: nbPort, tls: writeTls(certDir, "a", nginxCerts.a, caFile), serverName: "localhost" }),
    naPort,
  );
  ctx.onCleanup(() => nginxA.stop());

  const urls: Record<TargetName, string> = {
    direct: `http://127.0.0.1:${appPort}/hello`,
    ours: `http://127.0.0.1:${aPort}/hello`,
    nginx: `http://127.0.0.1:${naPort}/hello`,
  };
  for (const t of TARGETS) {
    const r = await httpGet(urls[t]);
    if (r.status !== 200 || Buffer.byteLength(r.body) !== BODY_BYTES) {
      const tail = t === "nginx" ? ` (nginx: ${nginxA.stderrTail().slice(-300)})` : t === "ours" ? ` (sidecars: ${sidecarA.stderrTail().slice(-300)} ${sidecarB.stderrTail().slice(-300)})` : "";
      throw new Error(`${t}: GET ${urls[t]} answered ${r.status} with ${Buffer.byteLength(r.body)} bytes: ${r.body.slice(0, 200)}${tail}`);
    }
  }
  return {
    urls,
    app,
    sidecarA,
    sidecarB,
    nginxA,
    nginxB,
    counts: async () => {
      const r = await httpGet(`http://127.0.0.1:${appPort}/__counts`);
      return JSON.parse(r.body) as AppCounts;
    },
  };
}
