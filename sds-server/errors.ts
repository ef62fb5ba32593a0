/**
 * Typed failures of the SDS server and client. The code is stable; the server
 * maps protocol codes to WebSocket close codes in one place (closeCodeFor).
 */
export type SdsErrorCode =
  /** A frame is not valid JSON. */
  | "invalid_json"
  /** A frame is JSON but not a well-formed DiscoveryRequest/Response. */
  | "invalid_message"
  /** type_url is not the Secret type. */
  | "unsupported_type"
  /** A resource name other than `default` / `ROOTCA`. */
  | "unknown_resource"
  /** A bad argument to the server API (workload name, secrets, path). */
  | "invalid_argument"
  | "not_found"
  | "conflict"
  /** The server is closed. */
  | "closed";

export class SdsError extends Error {
  readonly code: SdsErrorCode;

  constructor(code: SdsErrorCode, message: string, opts: { cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "SdsError";
    this.code = code;
  }
}

export function isSdsError(err: unknown): err is SdsError {
  return err instanceof SdsError;
}

/** WebSocket close codes (RFC 6455 §7.4.1) used by the server. */
export const CloseCode = {
  /** Workload removed or server shutting down. */
  goingAway: 1001,
  /** Binary frame: only text (JSON) frames are accepted. */
  unsupportedData: 1003,
  /** Not JSON / not UTF-8. */
  invalidPayload: 1007,
  /** Well-formed JSON breaking the protocol, or no request in time. */
  policyViolation: 1008,
  /** Frame over maxFrameBytes (sent by `ws` itself). */
  messageTooBig: 1009,
} as const;

export function closeCodeFor(code: SdsErrorCode): number {
  return code === "invalid_json" ? CloseCode.invalidPayload : CloseCode.policyViolation;
}
