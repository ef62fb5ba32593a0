/**
 * The sidecar's admin endpoint, loopback only (refused at config load
 * otherwise): GET /ready, /metrics (Prometheus text), /certs (the identity in
 * use, never the key), /config_dump (effective config and cluster state).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { ProxyMetrics } from "./metrics.js";

export interface AdminView {
  ready(): { ok: boolean; reason?: string };
  certs(): unknown;
  configDump(): unknown;
  metrics: ProxyMetrics;
}

export interface AdminServer {
  server: Server;
  port: number;
  close(): Promise<void>;
}

function json(res: import("node:http").ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) }).end(text);
}

export async function startAdmin(host: string, port: number, view: AdminView): Promise<AdminServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      json(res, 405, { error: { code: "method_not_allowed", message: "admin endpoints are read-only (GET)" } });
      return;
    }
    try {
      if (path === "/ready") {
        const r = view.ready();
        res.writeHead(r.ok ? 200 : 503, { "content-type": "text/plain" }).end(r.ok ? "ready\n" : `not ready: ${r.reason ?? "starting"}\n`);
      } else if (path === "/metrics") {
        view.metrics.registry
          .metrics()
          .then((text) => res.writeHead(200, { "content-type": view.metrics.registry.contentType }).end(text))
          .catch(() => res.writeHead(500).end());
      } else if (path === "/certs") {
        json(res, 200, view.certs());
      } else if (path === "/config_dump") {
        json(res, 200, view.configDump());
      } else {
        json(res, 404, { error: { code: "not_found", message: "try /ready, /metrics, /certs or /config_dump" } });
      }
    } catch (err) {
      json(res, 500, { error: { code: "internal", message: err instanceof Error ? err.message : String(err) } });
    }
  });
  server.headersTimeout = 5000;
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
