/**
 * A test collector on loopback: a Node TCP or TLS server that reads
 * octet-counted frames (RFC 6587 §3.4.1 / RFC 5425 §4.3) with its own
 * decoder, can be stopped abruptly (unread bytes are lost, as when a real
 * collector dies) and restarted on the same port.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer as netServer, type Server, type Socket } from "node:net";
import { createServer as tlsServer, type TLSSocket } from "node:tls";

export interface Frame {
  text: string;
  /** Date.now() when the frame was complete. */
  at: number;
  /** Which connection (1, 2, …) carried it. */
  conn: number;
}

export interface CollectorOptions {
  /** Serve TLS with this key and certificate (PEM). */
  tls?: { key: string; cert: string; ca?: string; requestCert?: boolean };
  /** Called for every frame; may stop the collector. */
  onFrame?: (f: Frame, c: FrameCollector) => void;
  /** Leave connections half-open when the client ends (a collector that never closes its side). */
  neverClose?: boolean;
}

const MAX_FRAME = 1 << 20;

/** An incremental octet-counting decoder; returns the complete frames, keeps the rest. */
export class OctetDecoder {
  private buf: Buffer = Buffer.alloc(0);
  error: string | undefined;

  push(data: Buffer): string[] {
    this.buf = this.buf.length === 0 ? data : Buffer.concat([this.buf, data]);
    const out: string[] = [];
    while (this.error === undefined) {
      const sp = this.buf.indexOf(0x20);
      if (sp === -1) {
        if (this.buf.length > 10) this.error = "no SP after 10 digits";
        break;
      }
      const lenText = this.buf.subarray(0, sp).toString("latin1");
      if (!/^[1-9]\d{0,9}$/.test(lenText) || Number(lenText) > MAX_FRAME) {
        this.error = `bad MSG-LEN '${lenText.slice(0, 20)}'`;
        break;
      }
      const len = Number(lenText);
      if (this.buf.length < sp + 1 + len) break;
      out.push(this.buf.subarray(sp + 1, sp + 1 + len).toString("utf8"));
      this.buf = this.buf.subarray(sp + 1 + len);
    }
    return out;
  }

  /** Bytes of an incomplete frame left over. */
  get pending(): number {
    return this.buf.length;
  }
}

export class FrameCollector {
  readonly frames: Frame[] = [];
  readonly errors: string[] = [];
  /** Subject CNs of client certificates seen (TLS). */
  readonly clientCerts: string[] = [];
  connections = 0;
  port = 0;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly raw = new Set<Socket>();

  private constructor(private readonly o: CollectorOptions) {}

  static async start(o: CollectorOptions = {}, port = 0): Promise<FrameCollector> {
    const c = new FrameCollector(o);
    await c.listen(port);
    return c;
  }

  private onConnection(sock: Socket | TLSSocket): void {
    const conn = ++this.connections;
    this.sockets.add(sock);
    sock.on("close", () => this.sockets.delete(sock));
    sock.on("error", () => undefined);
    if ("getPeerCertificate" in sock) {
      const cn = sock.getPeerCertificate().subject?.CN;
      if (typeof cn === "string") this.clientCerts.push(cn);
    }
    const dec = new OctetDecoder();
    sock.on("data", (d: Buffer) => {
      for (const text of dec.push(d)) {
        const f = { text, at: Date.now(), conn };
        this.frames.push(f);
        this.o.onFrame?.(f, this);
        if (this.server === undefined) return; // stopped by onFrame: the rest is lost
      }
      if (dec.error !== undefined) {
        this.errors.push(dec.error);
        sock.destroy();
      }
    });
    sock.on("end", () => {
      if (dec.pending > 0) this.errors.push(`connection ${conn} ended inside a frame (${dec.pending} bytes)`);
      if (!this.o.neverClose) sock.end();
    });
  }

  private listen(port: number): Promise<void> {
    const onConn = (s: Socket | TLSSocket): void => this.onConnection(s);
    const server = this.o.tls
      ? tlsServer({ key: this.o.tls.key, cert: this.o.tls.cert, ca: this.o.tls.ca, requestCert: this.o.tls.requestCert, rejectUnauthorized: this.o.tls.requestCert === true, allowHalfOpen: true }, onConn)
      : netServer({ allowHalfOpen: true }, onConn);
    // Every accepted TCP connection, also TLS ones still in (or failed in) the handshake, so stop() can end them all.
    server.on("connection", (s: Socket) => {
      this.raw.add(s);
      s.on("close", () => this.raw.delete(s));
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        const addr = server.address();
        this.port = typeof addr === "object" && addr !== null ? addr.port : port;
        resolve();
      });
    });
  }

  /** Abrupt stop: no new connections, open ones reset; unread bytes are lost. */
  stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) {
      try {
        s.resetAndDestroy(); // RST: what the client sees when a collector dies
      } catch {
        s.destroy(); // TLS sockets have no TCP handle of their own
      }
    }
    this.sockets.clear();
    for (const s of this.raw) s.destroy();
    this.raw.clear();
    if (server === undefined) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  /** Listens again on the same port. */
  restart(): Promise<void> {
    return this.listen(this.port);
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  /** Waits until pred() holds, polling every 10 ms, at most ms. */
  async waitFor(pred: () => boolean, ms: number): Promise<boolean> {
    const end = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > end) return false;
      await new Promise((r) => setTimeout(r, 10));
    }
    return true;
  }
}

/**
 * A test file's temp dirs and collectors, removed and stopped in one
 * `test.after.always(fixture.cleanup)`.
 */
export function shipFixture(prefix: string): { tempDir(): string; collector(...args: Parameters<typeof FrameCollector.start>): Promise<FrameCollector>; cleanup(): Promise<void> } {
  const dirs: string[] = [];
  const collectors: FrameCollector[] = [];
  return {
    tempDir() {
      const d = mkdtempSync(join(tmpdir(), prefix));
      dirs.push(d);
      return d;
    },
    async collector(...args) {
      const c = await FrameCollector.start(...args);
      collectors.push(c);
      return c;
    },
    async cleanup() {
      for (const c of collectors) await c.stop();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}
