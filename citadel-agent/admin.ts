/** The agent's admin endpoint, loopback only: /ready, /metrics, /status. */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { NodeAgent } from "./agent.js";
import { AgentError } from "./errors.js";
import type { AgentMetrics } from "./metrics.js";

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export async function startAdmin(host: string, port: number, agent: NodeAgent, metrics: AgentMetrics): Promise<{ server: Server; port: number; close: () => Promise<void> }> {
  if (!isLoopback(host)) throw new AgentError("config_invalid", `admin.listen must be a loopback address, got ${host}`);
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET") {
      res.writeHead(405).end();
      return;
    }
    if (path === "/ready") {
      const ok = agent.ready();
      res.writeHead(ok ? 200 : 503, { "content-type": "text/plain" }).end(ok ? "ready\n" : "not ready\n");
    } else if (path === "/metrics") {
      metrics.registry
        .metrics()
        .then((text) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(text))
        .catch(() => res.writeHead(500).end());
    } else if (path === "/status") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(agent.status()));
    } else {
      res.writeHead(404).end();
    }
  });
  server.headersTimeout = 5000;
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
