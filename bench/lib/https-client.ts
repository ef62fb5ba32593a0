/** A minimal keep-alive HTTPS client for load: one request, whole body, bounded time. */
import { Agent, request } from "node:https";

export interface TlsClientOptions {
  ca: string;
  cert?: string;
  key?: string;
  /** Keep-alive sockets (and so requests in flight at most). */
  maxSockets: number;
}

export function keepAliveAgent(o: TlsClientOptions): Agent {
  return new Agent({ keepAlive: true, maxSockets: o.maxSockets, maxFreeSockets: o.maxSockets, ca: o.ca, cert: o.cert, key: o.key, minVersion: "TLSv1.3" });
}

export interface Target {
  host: string;
  port: number;
  /** TLS server name to check the certificate against (SNI). */
  servername: string;
}

export interface Reply {
  status: number;
  body: string;
}

export function send(agent: Agent, target: Target, method: string, path: string, body: string | undefined, timeoutMs = 10_000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = {};
    if (body !== undefined) {
      headers["content-type"] = "application/json";
      headers["content-length"] = Buffer.byteLength(body);
    }
    const req = request(
      { host: target.host, port: target.port, servername: target.servername, path, method, agent, headers, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${path} timed out after ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(body);
  });
}

/** Like send, but anything other than the expected status is an error carrying the reply's start. */
export async function expectStatus(p: Promise<Reply>, status = 200): Promise<Reply> {
  const r = await p;
  if (r.status !== status) throw new Error(`HTTP ${r.status}: ${r.body.slice(0, 300)}`);
  return r;
}
