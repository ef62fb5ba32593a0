/**
 * Connection pools, one undici Pool per endpoint, opened lazily. mTLS
 * clusters connect through connectMtls (secure naming on every handshake);
 * the cluster's max_connections breaker is taken per socket. When our
 * identity rotates, mTLS pools are swapped for new ones and the old ones are
 * closed gracefully: requests in flight finish on the old connections, new
 * requests open connections with the new certificate.
 */
import type { Socket } from "node:net";
import { Pool } from "undici";
import type { Cluster } from "../cluster/cluster.js";
import type { Endpoint } from "../cluster/endpoint.js";
import { ProxyError } from "../errors.js";
import { connectMtls, connectPlain, undiciConnector, type MtlsDeps } from "./connector.js";

/** Marks errors raised while connecting, so the forwarder reports "connect-failure" rather than "reset". */
export class ConnectError extends ProxyError {}

export interface PoolOptions {
  /** Idle pooled connections are closed after this long (kept below the peers' idle timeout). */
  keepAliveMs: number;
}

export class PoolManager {
  private pools = new Map<string, Pool>();
  private closing = new Set<Pool>();

  constructor(
    private readonly mtls: MtlsDeps,
    private readonly opts: PoolOptions = { keepAliveMs: 60_000 },
  ) {}

  get(cluster: Cluster, ep: Endpoint): Pool {
    const key = `${cluster.name}\u0000${ep.address}`;
    let pool = this.pools.get(key);
    if (!pool) {
      pool = this.create(cluster, ep);
      this.pools.set(key, pool);
    }
    return pool;
  }

  private create(cluster: Cluster, ep: Endpoint): Pool {
    const address = { host: ep.host, port: ep.port };
    const connectTimeoutMs = cluster.config.connect_timeout;
    const breaker = cluster.breaker;
    const open = (cb: (err: Error | null, s: Socket | null) => void): void => {
      if (!breaker.tryAcquire("connections")) {
        cb(new ConnectError("overflow", `cluster "${cluster.name}": max_connections (${breaker.limit("connections")}) reached`), null);
        return;
      }
      const done = (err: Error | null, s: Socket | null): void => {
        if (err || !s) {
          breaker.release("connections");
          cb(err instanceof ConnectError ? err : new ConnectError(err instanceof ProxyError ? err.code : "upstream_failure", err?.message ?? "connect failed", { cause: err }), null);
          return;
        }
        s.once("close", () => breaker.release("connections"));
        cb(null, s);
      };
      if (cluster.spiffeId !== undefined) {
        connectMtls({ address, expectedSpiffeId: cluster.spiffeId, connectTimeoutMs }, this.mtls, done);
      } else {
        connectPlain(address, connectTimeoutMs, done);
      }
    };
    const origin = `${cluster.spiffeId !== undefined ? "https" : "http"}://${ep.address}`;
    return new Pool(origin, {
      connect: undiciConnector(open),
      pipelining: 1,
      keepAliveTimeout: this.opts.keepAliveMs,
      keepAliveMaxTimeout: this.opts.keepAliveMs,
      strictContentLength: true,
    });
  }

  /** New connections for the mTLS clusters (identity rotated); old pools drain and close. */
  recycleMtls(isMtls: (clusterName: string) => boolean): void {
    for (const [key, pool] of this.pools) {
      if (!isMtls(key.slice(0, key.indexOf("\u0000")))) continue;
      this.pools.delete(key);
      this.retire(pool);
    }
  }

  /** Drops pools of endpoints no longer in a cluster. */
  prune(clusterName: string, keep: ReadonlySet<string>): void {
    for (const [key, pool] of this.pools) {
      const [c, addr] = key.split("\u0000") as [string, string];
      if (c === clusterName && !keep.has(addr)) {
        this.pools.delete(key);
        this.retire(pool);
      }
    }
  }

  private retire(pool: Pool): void {
    this.closing.add(pool);
    pool
      .close()
      .catch(() => undefined)
      .finally(() => this.closing.delete(pool));
  }

  /** Waits for in-flight requests (close), or cuts them (destroy) when `force`. */
  async closeAll(force = false): Promise<void> {
    const all = [...this.pools.values(), ...this.closing];
    this.pools.clear();
    await Promise.all(all.map((p) => (force ? p.destroy() : p.close()).catch(() => undefined)));
  }
}
