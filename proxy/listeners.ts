/**
 * Servers for the three listener kinds. inbound: HTTPS, TLS 1.3 only, client
 * certificate required and chain-checked by OpenSSL against the bundle, then
 * the peer's SVID validated by pki/ (SPIFFE rules, CRL) once per connection;
 * a refused peer's socket is closed before any request is read. outbound:
 * plain HTTP on loopback. ingress: HTTP, or HTTPS with a file certificate and
 * no client certificates.
 */
import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
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
  // a request the parser refuses may follow pipelined requests still being answered: its 400 waits for them
  // (a count on the socket and one shared listener per response: this runs for every request)
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const s = req.socket as CountedSocket;
    s[PENDING] = (s[PENDING] ?? 0) + 1;
    (res as CountedResponse)[SOCKET] = s;
    res.on("close", onResponseClose);
  });
  server.on("clientError", (_err, socket: Socket) => {
    const refuse = (): void => {
      if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
      else socket.destroy();
    };
    if (((socket as CountedSocket)[PENDING] ?? 0) > 0) socket.once(ANSWERED, refuse);
    else refuse();
  });
  // the mesh is no forward proxy: CONNECT gets an answer rather than Node's silent close
  server.on("connect", (_req: IncomingMessage, socket: Duplex) => {
    socket.on("error", () => socket.destroy());
    const body = JSON.stringify({ error: { code: "method_not_allowed", message: "CONNECT is not supported: this is not a forward proxy" } });
    socket.end(`HTTP/1.1 405 Method Not Allowed\r\nallow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  });
  return { server, sockets };
}

/** Emitted on a client socket when the last response in progress on it is done. */
const ANSWERED = "mesh:answered";
/** Responses in progress on a client socket. */
const PENDING = Symbol("mesh.pendingResponses");
type CountedSocket = Socket & { [PENDING]?: number };
/** The socket a response was counted on (res.socket is gone by the time it closes). */
const SOCKET = Symbol("mesh.countedOn");
type CountedResponse = ServerResponse & { [SOCKET]?: CountedSocket };

/** "close" comes once per response, when it is done or its connection is gone; one function for all of them, no closure per request. */
function onResponseClose(this: CountedResponse): void {
  const s = this[SOCKET];
  if (s !== undefined && --s[PENDING]! === 0) s.emit(ANSWERED);
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
