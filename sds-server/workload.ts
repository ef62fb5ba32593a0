/**
 * One workload: its secrets and version, its Unix socket (an HTTP server that
 * only upgrades to WebSocket), the upgrade checks (app token, client limit,
 * handshake timeout) and the heartbeat over its clients' streams.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import type { SdsEvent } from "./events.js";
import { normalizeSecrets, type WorkloadSecrets } from "./protocol.js";
import { listenPrivate, removeStaleSocket, unlinkQuietly } from "./socket-file.js";
import { SdsStream, type StreamHost } from "./stream.js";

export interface WorkloadLimits {
  maxFrameBytes: number;
  maxClients: number;
  maxBufferedBytes: number;
  handshakeTimeoutMs: number;
  firstRequestTimeoutMs: number;
  heartbeatMs: number;
  closeGraceMs: number;
  clock: () => Date;
}

const digest = (s: string): Buffer => createHash("sha256").update(s, "utf8").digest();

/** HTTP refusal of an upgrade; the body never echoes anything the client sent. */
function refuse(socket: Duplex, status: 401 | 404 | 426 | 503, text: string): void {
  const extra = status === 401 ? "WWW-Authenticate: Bearer\r\n" : "";
  const body = text + "\n";
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  setTimeout(() => socket.destroy(), 1000).unref();
}

export class Workload implements StreamHost {
  private secretsValue: WorkloadSecrets = {};
  private secretsKey = JSON.stringify({});
  private seq = 0;
  private readonly streams = new Set<SdsStream>();
  private readonly sockets = new Set<Socket>();
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  /** Only a digest of the app token is kept. */
  private readonly tokenDigest: Buffer | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private closing = false;

  constructor(
    readonly workload: string,
    readonly path: string,
    appToken: string | undefined,
    private readonly limits: WorkloadLimits,
    private readonly onEvent: (e: SdsEvent) => void,
  ) {
    this.tokenDigest = appToken === undefined ? undefined : digest(appToken);
    this.wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxFrameBytes, clientTracking: false, perMessageDeflate: false });
    this.wss.on("error", () => undefined);
    this.http = createServer({ maxHeaderSize: 8192 }, (_req, res) => {
      res.writeHead(426, { "Content-Type": "text/plain", Connection: "close" }).end("WebSocket upgrade required\n");
    });
    // Raw connections beyond this are dropped by Node before any parsing.
    this.http.maxConnections = limits.maxClients * 2 + 4;
    this.http.on("connection", (socket: Socket) => this.onConnection(socket));
    this.http.on("clientError", (_err, socket: Duplex) => socket.destroy());
    this.http.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
  }

  emit(event: SdsEvent): void {
    this.onEvent(event);
  }

  secrets(): WorkloadSecrets {
    return this.secretsValue;
  }

  version(): string {
    return String(this.seq);
  }

  subscriberCount(): number {
    let n = 0;
    for (const s of this.streams) if (s.subscribed) n++;
    return n;
  }

  async listen(owner: { uid?: number; gid?: number }): Promise<void> {
    await removeStaleSocket(this.path);
    await listenPrivate(this.http, this.path, owner);
    this.heartbeatTimer = setInterval(() => {
      for (const s of this.streams) s.heartbeat(this.limits.heartbeatMs * 2);
    }, this.limits.heartbeatMs);
    this.heartbeatTimer.unref();
  }

  /** Returns false when the content is identical (no new version, no push). */
  setSecrets(input: WorkloadSecrets): boolean {
    const secrets = normalizeSecrets(input);
    const key = JSON.stringify(secrets);
    if (key === this.secretsKey) return false;
    this.secretsValue = secrets;
    this.secretsKey = key;
    this.seq++;
    for (const s of this.streams) s.push();
    return true;
  }

  private onConnection(socket: Socket): void {
    this.sockets.add(socket);
    socket.on("error", () => undefined);
    const timer = setTimeout(() => {
      if (!upgraded.has(socket)) socket.destroy();
    }, this.limits.handshakeTimeoutMs);
    timer.unref();
    socket.once("close", () => {
      clearTimeout(timer);
      this.sockets.delete(socket);
    });
  }

  private authorized(header: string | undefined): "ok" | "missing app token" | "invalid app token" {
    if (!this.tokenDigest) return "ok";
    const match = header === undefined ? null : /^bearer[ ]+(\S+)\s*$/i.exec(header);
    // Hash both sides so the comparison takes the same time whatever the lengths.
    const presented = digest(match ? match[1] : "");
    const equal = timingSafeEqual(presented, this.tokenDigest);
    if (!match) return "missing app token";
    return equal ? "ok" : "invalid app token";
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on("error", () => undefined);
    if (this.closing) return refuse(socket, 503, "Service Unavailable");
    const auth = this.authorized(req.headers.authorization);
    if (auth !== "ok") {
      this.emit({ type: "connection_denied", workload: this.workload, reason: auth });
      return refuse(socket, 401, "Unauthorized");
    }
    if (this.streams.size >= this.limits.maxClients) {
      this.emit({ type: "connection_denied", workload: this.workload, reason: `too many clients (max ${this.limits.maxClients})` });
      return refuse(socket, 503, "Service Unavailable");
    }
    this.wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      upgraded.add(socket);
      const stream = new SdsStream(ws, this, {
        firstRequestTimeoutMs: this.limits.firstRequestTimeoutMs,
        maxBufferedBytes: this.limits.maxBufferedBytes,
        closeTimeoutMs: this.limits.closeGraceMs,
        clock: this.limits.clock,
      });
      this.streams.add(stream);
      ws.once("close", () => {
        this.streams.delete(stream);
        this.emit({ type: "disconnected", workload: this.workload });
      });
      this.emit({ type: "connected", workload: this.workload });
    });
  }

  /** Closes every client with `code`/`reason`, stops listening and unlinks the socket. */
  async close(code: number, reason: string): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    const streams = [...this.streams];
    for (const s of streams) s.close(code, reason);
    // Give peers a moment to answer the close frame, then cut whoever did not.
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(streams.map((s) => s.closed())),
      new Promise<void>((resolve) => {
        grace = setTimeout(resolve, this.limits.closeGraceMs);
      }),
    ]);
    if (grace) clearTimeout(grace);
    for (const s of streams) s.terminate();
    const stopped = new Promise<void>((resolve) => this.http.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    this.wss.close();
    await stopped;
    await unlinkQuietly(this.path);
  }
}

/** Sockets handed over to `ws`; the handshake timer must leave them alone. */
const upgraded = new WeakSet<Duplex>();
