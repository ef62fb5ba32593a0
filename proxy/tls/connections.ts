/**
 * Live mTLS connections and whom they are with. When the CRL changes, the
 * ones whose peer is now revoked are closed; a periodic sweep closes those
 * whose peer certificate has expired (a validated handshake is not a licence
 * for ever).
 */
import type { Socket } from "node:net";
import type { TrustState } from "../identity/trust.js";
import type { PeerIdentity } from "../peer.js";

export interface TrackedConnection {
  readonly socket: Socket;
  readonly peer: PeerIdentity;
  /** Issuer of the peer's leaf, for the revocation lookup. */
  readonly issuer: import("node:crypto").X509Certificate | undefined;
  readonly direction: "inbound" | "outbound";
}

export class ConnectionRegistry {
  private readonly live = new Set<TrackedConnection>();

  add(c: TrackedConnection): void {
    this.live.add(c);
    c.socket.once("close", () => this.live.delete(c));
  }

  get size(): number {
    return this.live.size;
  }

  /** Closes connections whose peer leaf is revoked under `trust`; returns how many. */
  closeRevoked(trust: TrustState, onClose?: (c: TrackedConnection) => void): number {
    let n = 0;
    for (const c of this.live) {
      if (c.issuer && trust.isRevoked(c.peer.serial, c.issuer)) {
        n++;
        this.live.delete(c);
        onClose?.(c);
        c.socket.destroy();
      }
    }
    return n;
  }

  /** Closes connections whose peer certificate expired before `now`. */
  closeExpired(now: Date, onClose?: (c: TrackedConnection) => void): number {
    let n = 0;
    const t = now.getTime();
    for (const c of this.live) {
      if (c.peer.notAfter.getTime() < t) {
        n++;
        this.live.delete(c);
        onClose?.(c);
        c.socket.destroy();
      }
    }
    return n;
  }

  destroyAll(): void {
    for (const c of this.live) c.socket.destroy();
    this.live.clear();
  }
}
