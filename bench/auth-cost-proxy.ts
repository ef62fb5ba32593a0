/**
 * auth-cost through a real proxy: `mesh proxy` with one ingress listener
 * (plain HTTP) whose `authn` filter has the same config block as the
 * in-process part, one route per provider plus an unprotected one, all to a
 * plain local cluster (the app in its own process). A sidecar waits for an
 * identity before it listens, even with no mTLS in play, so an in-process
 * CA issues one and an in-process SdsServer hands it over as an agent would.
 * Before any timing, every route is probed: 200 with the app's body with its
 * credential, 401 without one on each protected route.
 */
import { join } from "node:path";
import { APP_BODY_BYTES, authnBlock, basicAuthorization, BASIC_USERS, makeJwt, signHmac, type Credentials, type RouteCounts, type RouteName } from "./auth-cost-setup.js";
import { httpGet } from "./lib/http-get.js";
import { SdsIdentities } from "./lib/identities.js";
import { freePort, listenerPort, meshProxyConfig, startMeshProxy } from "./lib/mesh-proxy.js";
import { splitCpus, startPeer, type PeerProcess } from "./lib/process.js";
import type { BenchContext } from "./lib/types.js";

const WORKLOAD = "auth-ingress";
export const INGRESS_ID = SdsIdentities.spiffeId(WORKLOAD);
/** Routes the load runs use (basic-cold is measured in-process only). */
export const PROXY_ROUTES: readonly RouteName[] = ["open", "jwt-es", "jwt-rs", "hmac", "basic", "key"];

export interface AuthTopology {
  /** http://127.0.0.1:PORT of the ingress listener. */
  origin: string;
  host: string;
  proxy: PeerProcess;
  app: PeerProcess;
  /** The one JWT per algorithm the load runs send (valid for an hour: it stays in the verified-token cache). */
  tokens: { es: string; rs: string };
  /** CPUs (taskset list) for the load generator and the app, when the proxy has a CPU of its own. */
  clientCpus?: string;
  /** How processes were placed, for the section. */
  placement: string;
  /** Fixed credential headers of each route, or undefined for a route whose requests are signed one by one (hmac). */
  headers(route: RouteName): Record<string, string> | undefined;
  counts(): Promise<Record<string, RouteCounts>>;
}

function ingressListener(c: Credentials): object {
  return {
    name: "ingress",
    kind: "ingress",
    listen: "127.0.0.1:0",
    filters: [{ authn: authnBlock(c) }],
    routes: PROXY_ROUTES.map((r) => ({ name: r, match: { path: { prefix: `/${r}/` } }, cluster: "local_app" })),
  };
}

export async function startAuthProxy(ctx: BenchContext, c: Credentials): Promise<AuthTopology> {
  const dir = ctx.tempDir("auth-cost-proxy-");
  // The proxy gets the last allowed CPU to itself, the app and the load generator the others: the proxy is
  // then what limits the rate, and its own clients do not take turns on its core.
  const split = splitCpus();
  const proxyCpu = split?.target;
  const clientCpus = split?.clients;
  const placement = split
    ? `proxy pinned to CPU ${proxyCpu}, app and load generator to CPU ${clientCpus} (taskset); other processes on the machine are not held off either`
    : "not pinned (taskset is missing or only one CPU is allowed): proxy, app and load generator share the CPUs";
  const appReady = join(dir, "app.ready.json");
  const app = await startPeer({
    command: process.execPath,
    args: [join(ctx.repoRoot, "dist/bench/auth-cost-app.js"), appReady, String(APP_BODY_BYTES)],
    readyFile: appReady,
    readyTimeoutMs: 15_000,
    cpuList: clientCpus,
  });
  ctx.onCleanup(() => app.stop());
  const appPort = (app.ready as { port: number }).port;

  ctx.log("issuing the ingress identity (in-process CA) and serving it over SDS");
  const sdsSocket = await new SdsIdentities(ctx, dir).socketFor(WORKLOAD);
  // no access log: it would cost the same on every route and only add noise
  const config = meshProxyConfig({ name: WORKLOAD, sdsSocket, adminPort: await freePort(), listeners: [ingressListener(c)], clusters: [{ name: "local_app", endpoints: [`127.0.0.1:${appPort}`] }] });
  ctx.log("starting mesh proxy (ingress listener, authn filter)");
  const proxy = await startMeshProxy(ctx, { dir, name: "ingress", config, cpuList: proxyCpu });
  const port = listenerPort(proxy, "ingress");
  const origin = `http://127.0.0.1:${port}`;
  const tokens = { es: makeJwt(c, "ES256"), rs: makeJwt(c, "RS256") };
  const fixed: Partial<Record<RouteName, Record<string, string>>> = {
    open: {},
    "jwt-es": { authorization: `Bearer ${tokens.es}` },
    "jwt-rs": { authorization: `Bearer ${tokens.rs}` },
    basic: { authorization: basicAuthorization(BASIC_USERS.scrypt, c.basicPassword) },
    key: { apikey: c.apiKey },
  };
  const topo: AuthTopology = {
    origin,
    host: `127.0.0.1:${port}`,
    proxy,
    app,
    tokens,
    ...(clientCpus ? { clientCpus } : {}),
    placement,
    headers: (r) => fixed[r],
    counts: async () => JSON.parse((await httpGet(`http://127.0.0.1:${appPort}/__counts`)).body) as Record<string, RouteCounts>,
  };
  await probe(topo, c);
  return topo;
}

/** Every route answers 200 with the app's body given its credential; every protected one 401 without. */
async function probe(topo: AuthTopology, c: Credentials): Promise<void> {
  const tail = () => topo.proxy.stderrTail().slice(-400);
  for (const r of PROXY_ROUTES) {
    let path = `/${r}/hello`;
    let headers = topo.headers(r);
    if (!headers) {
      const s = signHmac(c, r);
      path = s.url;
      headers = { date: s.date, authorization: s.authorization };
    }
    const ok = await httpGet(`${topo.origin}${path}`, headers);
    if (ok.status !== 200 || Buffer.byteLength(ok.body) !== APP_BODY_BYTES) {
      throw new Error(`route ${r}: GET ${path} with its credential answered ${ok.status}: ${ok.body.slice(0, 200)} (proxy: ${tail()})`);
    }
    if (r === "open") continue;
    const bare = await httpGet(`${topo.origin}/${r}/hello`);
    if (bare.status !== 401) throw new Error(`route ${r}: GET without a credential answered ${bare.status}, expected 401: the route is not protected`);
  }
}
