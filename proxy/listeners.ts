/**
 * Servers for the three listener kinds. inbound: HTTPS, TLS 1.3 only, client
 * certificate required and chain-checked by OpenSSL against the bundle, then
 * the peer's SVID validated by pki/ (SPIFFE rules, CRL) once per connection;
 * a refused peer's socket is closed before any request is read. outbound:
 * plain HTTP on loopback. ingress: HTTP, or HTTPS with a file certificate and
 * no client certificates.
 */
import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Socket } from "node:net";
import type { SecureContextOptions, TLSSocket } from "node:tls";
import type { ListenerConfig } from "./config/schema.js";
import { ProxyError } from "./errors.js";
import type { IdentitySnapshot } from "./identity/sds-identity.js";

export function serverTlsOptions(id: IdentitySnapshot): SecureContextOptions {
  return { cert: id.chainPem, key: id.keyPem, ca: [...id.trust.rootsPem], minVersion: "TLSv1.3" };
}

export interface ListenerServer {
  server: HttpServer;
  /** Raw sockets, so a forced close can end connections that never sent a request. */
  sockets: Set<Socket>;
}

export function createListenerServer(l: ListenerConfig, id: IdentitySnapshot | undefined): ListenerServer {
  let server: HttpServer;
  if (l.kind === "inbound") {
    if (!id) throw new ProxyError("no_identity", "an inbound listener needs an identity from SDS");
    server = createHttpsServer({
      ...serverTlsOptions(id),
      requestCert: true,
      rejectUnauthorized: true,
      ALPNProtocols: ["http/1.1"],
      handshakeTimeout: 10_000,
    });
  } else if (l.kind === "ingress" && l.tls) {
    let cert: Buffer;
    let key: Buffer;
    try {
      cert = readFileSync(l.tls.cert_file);
      key = readFileSync(l.tls.key_file);
    } catch (err) {
      throw new ProxyError("invalid_config", `listener ${l.name}: cannot read tls files: ${(err as Error).message}`);
    }
    server = createHttpsServer({ cert, key, minVersion: "TLSv1.2", ALPNProtocols: ["http/1.1"], handshakeTimeout: 10_000 });
  } else {
    server = createHttpServer();
  }
  server.keepAliveTimeout = l.idle_timeout;
  server.headersTimeout = 30_000;
  server.requestTimeout = 0; // long uploads and streams are bounded by the routes' timeouts instead
  // one over the limit, so the handler sees that there were too many and answers 431 (Node would drop the rest silently)
  server.maxHeadersCount = l.max_header_count + 1;
  server.maxConnections = l.max_connections;
  const sockets = new Set<Socket>();
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  server.on("clientError", (_err, socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
    else socket.destroy();
  });
  return { server, sockets };
}

export function listen(server: HttpServer, address: string): Promise<number> {
  const i = address.lastIndexOf(":");
  const host = address.slice(0, i).replace(/^\[|\]$/g, "");
  const port = Number(address.slice(i + 1));
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => reject(new ProxyError("invalid_config", `cannot listen on ${address}: ${err.code ?? err.message}`));
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      const a = server.address();
      resolve(typeof a === "object" && a ? a.port : port);
    });
  });
}

export type { TLSSocket };
