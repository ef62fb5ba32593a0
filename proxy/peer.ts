/** The authenticated peer of a connection, computed once per TLS socket. */
export interface PeerIdentity {
  /** Full SPIFFE ID, e.g. spiffe://demo.mesh/ns/demo/sa/frontend. */
  readonly spiffeId: string;
  readonly trustDomain: string;
  /** Istio's principal form: `<td>/ns/<ns>/sa/<sa>` (the ID without `spiffe://`). */
  readonly principal: string;
  /** The `ns` path segment when the ID has the `/ns/<ns>/sa/<sa>` shape. */
  readonly namespace?: string;
  readonly serviceAccount?: string;
  /** Hex serial of the peer's leaf (for revocation checks on live connections). */
  readonly serial: string;
  readonly notAfter: Date;
  /** SHA-256 of the leaf DER, lower-case hex (x-forwarded-client-cert's Hash field). */
  readonly certSha256?: string;
}

/** Splits a SPIFFE ID into the parts authorization matches on. */
export function peerFromSpiffeId(spiffeId: string, serial: string, notAfter: Date, certSha256?: string): PeerIdentity {
  const rest = spiffeId.slice("spiffe://".length);
  const slash = rest.indexOf("/");
  const trustDomain = slash < 0 ? rest : rest.slice(0, slash);
  const segs = slash < 0 ? [] : rest.slice(slash + 1).split("/");
  const shaped = segs.length === 4 && segs[0] === "ns" && segs[2] === "sa";
  return {
    spiffeId,
    trustDomain,
    principal: rest,
    namespace: shaped ? segs[1] : undefined,
    serviceAccount: shaped ? segs[3] : undefined,
    serial,
    notAfter,
    certSha256,
  };
}
