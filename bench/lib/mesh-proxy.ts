/**
 * `mesh proxy` as a benchmark peer: the config every benchmark sidecar
 * shares (identity over SDS, an admin port, no access log), written to a
 * file, the proxy started from dist/ with a ready file, and the ports its
 * listeners got.
 */
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { stringify } from "yaml";
import { BENCH_TRUST_DOMAIN } from "./ca-setup.js";
import { startPeer, type PeerProcess } from "./process.js";
import type { BenchContext } from "./types.js";

/** A port the OS just handed out and released (for what cannot report the port it got for :0: nginx, the admin listener). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export interface MeshProxyConfig {
  name: string;
  sdsSocket: string;
  adminPort: number;
  listeners: readonly object[];
  clusters: readonly object[];
}

/** A sidecar config with no access log (the peers it is compared with run without one, and it costs the same on every path). */
export function meshProxyConfig(c: MeshProxyConfig): object {
  return {
    name: c.name,
    sds: { socket: c.sdsSocket, trust_domain: BENCH_TRUST_DOMAIN, wait_timeout: "20s" },
    admin: { listen: `127.0.0.1:${c.adminPort}` },
    access_log: "off",
    drain_timeout: "1s",
    listeners: c.listeners,
    clusters: c.clusters,
  };
}

export interface StartMeshProxyOptions {
  /** Folder for NAME.yaml and NAME.ready.json. */
  dir: string;
  name: string;
  config: object;
  cpuList?: string;
  /** Node.js flags before ctx.peerNodeFlags. */
  nodeFlags?: readonly string[];
  env?: NodeJS.ProcessEnv;
}

/** Writes the config, starts `mesh proxy` and waits for its ready file; stopped by ctx.onCleanup. */
export async function startMeshProxy(ctx: BenchContext, o: StartMeshProxyOptions): Promise<PeerProcess> {
  const file = join(o.dir, `${o.name}.yaml`);
  writeFileSync(file, stringify(o.config));
  const readyFile = join(o.dir, `${o.name}.ready.json`);
  const peer = await startPeer({
    command: process.execPath,
    args: [...(o.nodeFlags ?? []), ...ctx.peerNodeFlags, join(ctx.repoRoot, "dist/cli/main.js"), "proxy", "--config", file, "--ready-file", readyFile, "--log-level", "warn"],
    env: o.env,
    readyFile,
    readyTimeoutMs: 30_000,
    cpuList: o.cpuList,
  });
  ctx.onCleanup(() => peer.stop());
  return peer;
}

/** The port a started proxy's listener got, from its ready file. */
export function listenerPort(peer: PeerProcess, listener: string, who = "proxy"): number {
  const r = peer.ready as { listeners?: Record<string, number> };
  const port = r.listeners?.[listener];
  if (typeof port !== "number" || port <= 0) throw new Error(`${who}: the ready file has no port for listener ${listener}: ${JSON.stringify(r)}`);
  return port;
}
