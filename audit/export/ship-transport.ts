/**
 * The byte stream to a collector: tcp://HOST:PORT or tls://HOST:PORT (TLS
 * 1.2 or later, the collector's certificate always verified), with bounded
 * waits everywhere, and the jittered exponential back-off between attempts.
 *
 * Syslog over TCP/TLS (RFC 6587, RFC 5425) has no acknowledgements, and a
 * write callback only means the kernel took the bytes: they can still die in
 * a send or receive buffer when the collector goes away. The one proof that
 * the collector read everything is an orderly close: we send FIN
 * (close_notify with TLS), the collector reads up to it and closes its side,
 * and we see its FIN. finish() is that proof; the shipper moves its cursor
 * only on it.
 */
import { isIPv6, isIP, Socket, connect as netConnect } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { ShipError } from "./ship-errors.js";

export interface ShipTarget {
  protocol: "tcp" | "tls";
  /** Host name or IP address (IPv6 without brackets). */
  host: string;
  port: number;
  /** The normalised URL, for messages and the state file. */
  url: string;
}

const TARGET = /^(tcp|tls):\/\/(\[[^\]]{1,64}\]|[A-Za-z0-9.-]{1,253}):(\d{1,5})$/;

/** Parses --to. Throws ShipError invalid_argument. */
export function parseShipTarget(text: string): ShipTarget {
  const m = TARGET.exec(text);
  if (!m) throw new ShipError("invalid_argument", `--to '${text}' must be tcp://HOST:PORT or tls://HOST:PORT`);
  let host = m[2];
  if (host.startsWith("[")) {
    host = host.slice(1, -1);
    if (!isIPv6(host)) throw new ShipError("invalid_argument", `--to '${text}': ${host} is not an IPv6 address`);
  } else if (host.startsWith(".") || host.endsWith(".") || host.includes("..")) {
    throw new ShipError("invalid_argument", `--to '${text}': bad host name`);
  }
  const port = Number(m[3]);
  if (port < 1 || port > 65535) throw new ShipError("invalid_argument", `--to '${text}': the port must be 1..65535`);
  const protocol = m[1] === "tls" ? "tls" : "tcp";
  return { protocol, host, port, url: `${protocol}://${isIPv6(host) ? `[${host}]` : host}:${port}` };
}

export interface TlsSettings {
  /** PEM CA certificates to verify the collector with; default: Node's (system) CAs. */
  ca?: string | Buffer;
  /** PEM client certificate chain and key, when the collector asks for one. */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** The name to check the collector's certificate against (and send as SNI); default the host. */
  servername?: string;
}

/** A connection to the collector. Errors from write/finish mean: the bytes may be lost. */
export interface ShipConnection {
  /** Writes, waiting while the socket's buffer is full, at most stallMs. */
  write(chunk: string, stallMs: number): Promise<void>;
  /** Orderly close; resolves only when the collector closed its side after reading everything. */
  finish(timeoutMs: number): Promise<void>;
  destroy(): void;
}

export type ShipConnector = (target: ShipTarget, timeoutMs: number, signal?: AbortSignal) => Promise<ShipConnection>;

/** Connection trouble: retried by the shipper, never shown as a failure of the run on its own. */
export class ConnectionLost extends Error {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "ConnectionLost";
  }
}

const describe = (err: unknown): string => {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === "string" ? e.code : "";
  const msg = typeof e?.message === "string" ? e.message : String(err);
  return code !== "" && !msg.includes(code) ? `${code}: ${msg}` : msg;
};

class SocketConnection implements ShipConnection {
  private error: Error | undefined;
  private ending = false;
  /** The collector closed its side (after we did: proof; before: a lost session). */
  private peerEnded = false;
  private peerEndedFirst = false;
  private closed = false;
  private readonly waiters = new Set<() => void>();

  constructor(private readonly sock: Socket | TLSSocket) {
    sock.on("error", (err) => {
      this.error ??= err;
      this.wake();
    });
    sock.on("end", () => {
      this.peerEnded = true;
      if (!this.ending) this.peerEndedFirst = true;
      this.wake();
    });
    sock.on("close", () => {
      this.closed = true;
      this.wake();
    });
    sock.on("drain", () => this.wake());
    // Whatever a collector sends us is not part of the protocol; read and drop it so 'end' can arrive.
    sock.on("data", () => undefined);
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  private broken(): Error | undefined {
    if (this.error !== undefined) return new ConnectionLost(describe(this.error), { cause: this.error });
    if (this.peerEndedFirst) return new ConnectionLost("the collector closed the connection");
    if (this.sock.destroyed && !(this.ending && this.peerEnded)) return new ConnectionLost("the connection was closed");
    return undefined;
  }

  /** Waits until ready() is true or the connection breaks, at most ms. */
  private wait(ready: () => boolean, ms: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (ready()) return finish();
        const err = this.broken();
        if (err !== undefined) finish(err);
      };
      const finish = (err?: Error): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (err === undefined) resolve();
        else reject(err);
      };
      const timer = setTimeout(() => finish(new ConnectionLost(`${what} took longer than ${ms} ms`)), Math.max(1, ms));
      this.waiters.add(check);
      check();
    });
  }

  async write(chunk: string, stallMs: number): Promise<void> {
    const err = this.broken();
    if (err !== undefined) throw err;
    if (this.sock.write(chunk, "utf8")) return;
    await this.wait(() => !this.sock.writableNeedDrain, stallMs, "the collector reading our data");
  }

  async finish(timeoutMs: number): Promise<void> {
    const err = this.broken();
    if (err !== undefined) throw err;
    this.ending = true;
    this.sock.end();
    try {
      // Until 'close': a reset that follows the collector's FIN (it closed before reading all) still shows as an error.
      await this.wait(() => this.closed && this.peerEnded && this.error === undefined, timeoutMs, "the collector closing the connection");
    } finally {
      this.sock.destroy();
    }
  }

  destroy(): void {
    this.sock.destroy();
  }
}

/** The real connector: TCP, or TLS 1.2+ verifying the collector's certificate. */
export function socketConnector(tls: TlsSettings = {}): ShipConnector {
  return (target, timeoutMs, signal) =>
    new Promise<ShipConnection>((resolve, reject) => {
      let sock: Socket | TLSSocket;
      const ready = target.protocol === "tls" ? "secureConnect" : "connect";
      if (target.protocol === "tls") {
        const servername = tls.servername ?? (isIP(target.host) === 0 ? target.host : undefined);
        sock = tlsConnect({
          host: target.host,
          port: target.port,
          servername,
          ca: tls.ca,
          cert: tls.cert,
          key: tls.key,
          minVersion: "TLSv1.2",
          rejectUnauthorized: true,
        });
      } else {
        sock = netConnect({ host: target.host, port: target.port });
      }
      const done = (err?: unknown): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        sock.off("error", done);
        sock.off(ready, onReady);
        if (err === undefined) return;
        sock.destroy();
        reject(err instanceof ConnectionLost ? err : new ConnectionLost(`cannot connect to ${target.url}: ${describe(err)}`, { cause: err }));
      };
      const onReady = (): void => {
        done();
        sock.setNoDelay(true); // follow: one event must not wait for Nagle
        resolve(new SocketConnection(sock));
      };
      const onAbort = (): void => done(new ConnectionLost("aborted"));
      const timer = setTimeout(() => done(new ConnectionLost(`cannot connect to ${target.url}: no answer within ${timeoutMs} ms`)), Math.max(1, timeoutMs));
      sock.once("error", done);
      sock.once(ready, onReady);
      if (signal?.aborted) onAbort();
      else signal?.addEventListener("abort", onAbort, { once: true });
    });
}

export interface BackoffOptions {
  /** First delay's upper bound. Default 250 ms. */
  baseMs?: number;
  /** No delay is longer. Default 10 000 ms. */
  maxMs?: number;
  /** [0, 1); default Math.random. */
  random?: () => number;
}

/**
 * Exponential back-off with "equal jitter": attempt n waits a random time in
 * [d/2, d), d = min(max, base·2ⁿ); so many exporters restarting together do
 * not reconnect in step, and no wait is ever zero or longer than max.
 */
export class Backoff {
  private attempt = 0;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly random: () => number;

  constructor(o: BackoffOptions = {}) {
    this.baseMs = o.baseMs ?? 250;
    this.maxMs = o.maxMs ?? 10_000;
    this.random = o.random ?? Math.random;
    if (!(this.baseMs >= 1) || !(this.maxMs >= this.baseMs)) throw new ShipError("invalid_argument", "back-off needs 1 <= base <= max");
  }

  /** The next delay in ms. */
  next(): number {
    const cap = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    const r = Math.min(Math.max(this.random(), 0), 1);
    return Math.max(1, Math.round(cap / 2 + (cap / 2) * r));
  }

  /** After a success: start again from base. */
  reset(): void {
    this.attempt = 0;
  }
}
