/** Typed failures of the node agent; the CLI maps them to exit codes, the admin endpoint to statuses. */
export type AgentErrorCode =
  | "config_invalid"
  | "ca_unreachable"
  | "ca_refused"
  | "ca_bad_response"
  | "not_attested"
  | "identity_invalid"
  | "io_error";

export class AgentError extends Error {
  readonly code: AgentErrorCode;
  /** HTTP status the CA answered, when it answered. */
  readonly status?: number;
  /** The CA's own error code, when it sent one. */
  readonly caCode?: string;
  /** Seconds the CA asked us to wait (429). */
  readonly retryAfter?: number;

  constructor(code: AgentErrorCode, message: string, opts: { status?: number; caCode?: string; retryAfter?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "AgentError";
    this.code = code;
    if (opts.status !== undefined) this.status = opts.status;
    if (opts.caCode !== undefined) this.caCode = opts.caCode;
    if (opts.retryAfter !== undefined) this.retryAfter = opts.retryAfter;
  }
}
