/**
 * Outgoing connections. mTLS to a peer sidecar: TLS 1.3 with our current
 * identity, the peer's chain validated as an X509-SVID and its SPIFFE ID
 * checked against the one the cluster expects (secure naming) before a
 * single request byte is written. Plain TCP to the local app. Both bounded
 * by a connect timeout.
 */
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import type { buildConnector } from "undici";
import { ProxyError } from "../errors.js";
import type { IdentitySnapshot } from "../identity/sds-identity.js";
import type { ConnectionRegistry } from "../tls/connections.js";
import { presentedChain, validateChain } from "../tls/peer-validate.js";

export interface Address {
  host: string;
  port: number;
}

/** "127.0.0.1:8080", "[::1]:8080", "localhost:80" → host and port. */
export function parseAddress(text: string): Address {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 1 || port > 65535) throw new ProxyError("invalid_config", `bad address ${JSON.stringify(text.slice(0, 100))}: expected host:port`);
  return { host: (m[1] ?? m[2])!, port };
}

export interface MtlsTarget {
  address: Address;
  /** The SPIFFE ID the peer must present (secure naming); undefined accepts any ID of our trust domain. */
  expectedSpiffeId?: string;
  connectTimeoutMs: number;
}

export interface MtlsDeps {
  identity: () => IdentitySnapshot | undefined;
  clock: () => Date;
  registry: ConnectionRegistry;
  onHandshakeFailure?: (reason: string) => void;
}

function withTimeout<T extends Socket>(sock: T, ms: number, what: string, done: (err: Error | null, s: T | null) => void, readyEvent: string): void {
  let settled = false;
  const finish = (err: Error | null): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    sock.off("error", onError);
    if (err) {
      sock.destroy();
      done(err, null);
    } else done(null, sock);
  };
  const onError = (err: Error): void =>
    finish(err instanceof ProxyError ? err : new ProxyError("upstream_failure", `${what}: ${err.message}`, { cause: err }));
  const timer = setTimeout(() => finish(new ProxyError("upstream_timeout", `${what}: connect timeout after ${ms} ms`)), ms);
  sock.once("error", onError);
  sock.once(readyEvent, () => {
    try {
      finish(null);
    } catch (err) {
      finish(err as Error);
    }
  });
  // a socket that errors after handing over is the pool's business; this listener only keeps the process alive
  sock.on("error", () => undefined);
}

/** Opens an mTLS connection and checks the peer; the callback gets the socket only when the peer is the expected one. */
export function connectMtls(t: MtlsTarget, deps: MtlsDeps, cb: (err: Error | null, s: TLSSocket | null) => void): void {
  const id = deps.identity();
  if (!id) {
    cb(new ProxyError("no_identity", "no valid identity from SDS: cannot open mTLS connections"), null);
    return;
  }
  const sock = tlsConnect({
    host: t.address.host,
    port: t.address.port,
    secureContext: id.clientContext,
    minVersion: "TLSv1.3",
    ALPNProtocols: ["http/1.1"],
    // the peer is identified by its SPIFFE ID, checked below; host names mean nothing in the mesh
    checkServerIdentity: () => undefined,
  });
  sock.setNoDelay(true);
  const where = `${t.address.host}:${t.address.port}`;
  withTimeout(sock, t.connectTimeoutMs, `mTLS to ${where}`, (err, s) => {
    if (err || !s) {
      deps.onHandshakeFailure?.(err instanceof ProxyError ? err.code : "tls");
      cb(err, null);
      return;
    }
    try {
      const v = validateChain(presentedChain(s), id, deps.clock());
      if (t.expectedSpiffeId !== undefined && v.peer.spiffeId !== t.expectedSpiffeId) {
        throw new ProxyError("peer_identity_mismatch", `peer at ${where} is ${v.peer.spiffeId}, expected ${t.expectedSpiffeId}`);
      }
      deps.registry.add({ socket: s, peer: v.peer, issuer: v.issuer, direction: "outbound" });
      cb(null, s);
    } catch (e) {
      s.destroy();
      const pe = e instanceof ProxyError ? e : new ProxyError("peer_invalid", String(e));
      deps.onHandshakeFailure?.(pe.code);
      cb(pe, null);
    }
  }, "secureConnect");
}

/** Plain TCP to the local app (loopback). */
export function connectPlain(address: Address, connectTimeoutMs: number, cb: (err: Error | null, s: Socket | null) => void): void {
  const sock = netConnect({ host: address.host, port: address.port });
  sock.setNoDelay(true);
  withTimeout(sock, connectTimeoutMs, `connect to ${address.host}:${address.port}`, cb, "connect");
}

/** Adapts a connect function to undici's connector signature. */
export function undiciConnector(open: (cb: (err: Error | null, s: Socket | null) => void) => void): buildConnector.connector {
  return (_opts: buildConnector.Options, callback: buildConnector.Callback) => {
    open((err, s) => (err || !s ? callback(err ?? new ProxyError("upstream_failure", "connect failed"), null) : callback(null, s)));
  };
}
