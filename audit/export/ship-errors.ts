/**
 * Typed failures of shipping to a collector. The code is stable (the CLI
 * prints it; callers switch on it). Connection trouble is not among them:
 * it is retried, and only surfaces as delivery_timeout.
 */
export type ShipErrorCode =
  /** --to is not tcp://HOST:PORT or tls://HOST:PORT, or an option is out of range. */
  | "invalid_argument"
  /** The state file cannot be read, parsed or written. */
  | "state_error"
  /** The state file names an event the audit log does not hold (another or a rebuilt log). */
  | "state_mismatch"
  /** Without --follow: nothing could be delivered for the whole timeout. */
  | "delivery_timeout";

export class ShipError extends Error {
  readonly code: ShipErrorCode;

  constructor(code: ShipErrorCode, message: string, opts: { cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "ShipError";
    this.code = code;
  }
}
