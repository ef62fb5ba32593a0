/**
 * The demo mesh's two apps (plain HTTP on loopback, behind their sidecars).
 * backend answers with what it learned from its sidecar (the caller's SPIFFE
 * ID from x-forwarded-client-cert) and echoes WebSocket messages on /ws;
 * frontend calls backend through its own sidecar's outbound listener.
 */
import { createServer, request, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";

export interface DemoAppOptions {
  name: "frontend" | "backend";
  host: string;
  port: number;
  /** frontend only: its sidecar's outbound listener, host:port. */
  outbound?: string;
}

function callerOf(req: IncomingMessage): string | undefined {
  const xfcc = req.headers["x-forwarded-client-cert"];
  const m = typeof xfcc === "string" ? /URI=([^;,]+)/.exec(xfcc) : null;
  return m?.[1];
}

function callBackend(outbound: string, requestId: string): Promise<{ status: number; body: unknown }> {
  const i = outbound.lastIndexOf(":");
  return new Promise((resolve, reject) => {
    const req = request(
      { host: outbound.slice(0, i), port: Number(outbound.slice(i + 1)), path: "/", method: "GET", headers: { host: "backend", "x-request-id": requestId }, timeout: 10_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            /* not JSON: keep the text */
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("backend call timed out")));
    req.on("error", reject);
    req.end();
  });
}

export async function startDemoApp(o: DemoAppOptions): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const requestId = String(req.headers["x-request-id"] ?? "");
    const send = (status: number, body: unknown): void => {
      const text = JSON.stringify(body) + "\n";
      res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) }).end(text);
    };
    if (o.name === "backend" || !o.outbound) {
      send(200, { service: o.name, path: req.url, caller: callerOf(req) ?? null, request_id: requestId });
      return;
    }
    callBackend(o.outbound, requestId).then(
      (r) => send(r.status === 200 ? 200 : 502, { service: "frontend", caller: callerOf(req) ?? null, request_id: requestId, backend: r.body }),
      (err: Error) => send(502, { service: "frontend", error: `backend unreachable: ${err.message}` }),
    );
  });
  server.keepAliveTimeout = 65_000;
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  server.on("upgrade", (req, socket, head) => {
    if ((req.url ?? "").split("?")[0] !== "/ws") {
      socket.end("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
  });
  await new Promise<void>((resolve) => server.listen(o.port, o.host, resolve));
  return { server, port: (server.address() as AddressInfo).port };
}
