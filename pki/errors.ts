/**
 * Typed failures of the PKI and the CA. The code is stable: the CA service
 * maps it to an HTTP status and the CLI to an exit code, nothing else does.
 */
export type PkiErrorCode =
  | "invalid_spiffe_id"
  | "invalid_svid"
  | "invalid_csr"
  | "invalid_key"
  | "invalid_argument"
  | "bad_passphrase"
  | "not_found"
  | "conflict"
  | "forbidden"
  | "unauthenticated"
  | "token_invalid"
  | "rate_limited"
  | "ca_unavailable"
  | "store_error";

export class PkiError extends Error {
  readonly code: PkiErrorCode;
  /** Seconds a caller should wait (rate limiting only). */
  readonly retryAfter?: number;

  constructor(code: PkiErrorCode, message: string, opts: { retryAfter?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "PkiError";
    this.code = code;
    if (opts.retryAfter !== undefined) this.retryAfter = opts.retryAfter;
  }
}

export function isPkiError(err: unknown): err is PkiError {
  return err instanceof PkiError;
}
