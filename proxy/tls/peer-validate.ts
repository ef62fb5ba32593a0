/**
 * Peer identity from a TLS socket: the presented chain validated as an
 * X509-SVID against the current bundle and CRLs, computed once per socket and
 * cached, so requests on a kept-alive connection cost a WeakMap read.
 */
import { X509Certificate } from "node:crypto";
import type { TLSSocket } from "node:tls";
import { validateX509Svid } from "../../pki/svid-validate.js";
import { ProxyError } from "../errors.js";
import type { IdentitySnapshot } from "../identity/sds-identity.js";
import { peerFromSpiffeId, type PeerIdentity } from "../peer.js";

const MAX_CHAIN = 6;
const cache = new WeakMap<TLSSocket, ValidatedPeer | ProxyError>();

export interface ValidatedPeer {
  readonly peer: PeerIdentity;
  /** The certificate that signed the peer's leaf (for revocation lookups later). */
  readonly issuer: X509Certificate | undefined;
}

/** The chain the peer presented, leaf first (Node links it through issuerCertificate). */
export function presentedChain(sock: TLSSocket): X509Certificate[] {
  const peer = sock.getPeerCertificate(true);
  if (!peer || !peer.raw) throw new ProxyError("peer_invalid", "the peer presented no certificate");
  const chain: X509Certificate[] = [];
  const seen = new Set<string>();
  for (let c = peer; c && c.raw && !seen.has(c.fingerprint256) && chain.length < MAX_CHAIN; c = c.issuerCertificate) {
    seen.add(c.fingerprint256);
    chain.push(new X509Certificate(c.raw));
  }
  return chain;
}

/** Validates a chain against our trust; throws ProxyError("peer_invalid") with the validator's reason. */
export function validateChain(chain: X509Certificate[], id: IdentitySnapshot, now: Date): ValidatedPeer {
  try {
    const v = validateX509Svid(chain, {
      now,
      roots: id.trust.roots,
      trustDomain: id.trustDomain,
      isRevoked: (serial, issuer) => id.trust.isRevoked(serial, issuer),
    });
    return { peer: peerFromSpiffeId(v.spiffeId.toString(), v.serial, v.notAfter, v.leaf.fingerprint256.replaceAll(":", "").toLowerCase()), issuer: v.chain[1] };
  } catch (err) {
    if (err instanceof ProxyError) throw err;
    throw new ProxyError("peer_invalid", err instanceof Error ? err.message : String(err), { cause: err });
  }
}

/** The socket's validated peer, computed on first call. Throws (and remembers) the reason a peer is refused. */
export function peerOf(sock: TLSSocket, id: IdentitySnapshot | undefined, now: Date): ValidatedPeer {
  const hit = cache.get(sock);
  if (hit !== undefined) {
    if (hit instanceof ProxyError) throw hit;
    return hit;
  }
  let result: ValidatedPeer | ProxyError;
  try {
    if (!id) throw new ProxyError("no_identity", "this sidecar has no identity yet");
    result = validateChain(presentedChain(sock), id, now);
  } catch (err) {
    result = err instanceof ProxyError ? err : new ProxyError("peer_invalid", String(err));
  }
  cache.set(sock, result);
  if (result instanceof ProxyError) throw result;
  return result;
}

/** The cached peer of a socket, if it was validated. */
export function cachedPeer(sock: TLSSocket): PeerIdentity | undefined {
  const hit = cache.get(sock);
  return hit instanceof ProxyError ? undefined : hit?.peer;
}
