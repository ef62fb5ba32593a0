/**
 * Typed failures of the audit log. The code is stable: callers (CLI exit
 * codes, components deciding whether to fail closed) switch on it, never on
 * the message.
 */
export type AuditErrorCode =
  /** The event given to append() breaks a rule (name syntax, sizes, JSON types). */
  | "invalid_event"
  /** A query filter or an option is out of range. */
  | "invalid_argument"
  /** The store could not take the write lock within busy_timeout. */
  | "busy"
  /** Any other SQLite / file-system failure. */
  | "store_error"
  /** The file is not an audit log, or was written by a newer schema. */
  | "unsupported_schema"
  /** The path does not exist (read-only open, verify). */
  | "not_found"
  /** Write attempted on a log opened read-only. */
  | "read_only"
  /** The log was closed. */
  | "closed"
  /** A signing key or trusted-keys file is missing, unreadable, too open or malformed. */
  | "key_error"
  /** The log (or an archive) does not verify, so the operation refused to go on. */
  | "verify_failed"
  /** An archive file is malformed or does not belong where it was given. */
  | "bad_archive";

export class AuditError extends Error {
  readonly code: AuditErrorCode;

  constructor(code: AuditErrorCode, message: string, opts: { cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "AuditError";
    this.code = code;
  }
}

export function isAuditError(err: unknown): err is AuditError {
  return err instanceof AuditError;
}
