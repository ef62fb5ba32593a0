/**
 * Typed failures of the proxy. The code is stable; it becomes an HTTP status
 * (statusFor) or an exit code only at the edge.
 */
export type ProxyErrorCode =
  /** The config file is missing, unreadable or does not match the schema. */
  | "invalid_config"
  /** A request was refused by a filter (authz, rate limit, auth, WAF). */
  | "denied"
  /** No route matched the request. */
  | "no_route"
  /** The cluster has no healthy endpoint, or a circuit breaker is open. */
  | "no_healthy_upstream"
  | "overflow"
  /** Connect, per-try or total timeout upstream. */
  | "upstream_timeout"
  /** The upstream failed: refused, reset, TLS failure, bad SPIFFE ID. */
  | "upstream_failure"
  /** The upstream peer's SVID is not the identity the cluster expects. */
  | "peer_identity_mismatch"
  /** The peer's certificate chain is not a valid X509-SVID (or is revoked). */
  | "peer_invalid"
  /** No identity from SDS yet (or the one held expired). */
  | "no_identity"
  /** The request is malformed or too large. */
  | "bad_request"
  | "payload_too_large"
  /** The proxy is draining or stopped. */
  | "closed";

export class ProxyError extends Error {
  readonly code: ProxyErrorCode;

  constructor(code: ProxyErrorCode, message: string, opts: { cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "ProxyError";
    this.code = code;
  }
}

export function isProxyError(err: unknown): err is ProxyError {
  return err instanceof ProxyError;
}

const STATUS: Record<ProxyErrorCode, number> = {
  invalid_config: 500,
  denied: 403,
  no_route: 404,
  no_healthy_upstream: 503,
  overflow: 503,
  upstream_timeout: 504,
  upstream_failure: 502,
  peer_identity_mismatch: 502,
  peer_invalid: 502,
  no_identity: 503,
  bad_request: 400,
  payload_too_large: 413,
  closed: 503,
};

/** The HTTP status a proxy error answers with. */
export function statusFor(code: ProxyErrorCode): number {
  return STATUS[code];
}
