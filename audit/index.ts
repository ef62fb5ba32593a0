/** The audit log's public surface: import from "audit/index.js". */
export { AuditError, isAuditError, type AuditErrorCode } from "./errors.js";
export {
  AUDIT_LIMITS,
  AUDIT_OUTCOMES,
  formatTimestamp,
  isAuditOutcome,
  prepareEvent,
  sealEvent,
  type AuditEvent,
  type AuditEventInput,
  type AuditOutcome,
  type AuditSink,
  type JsonValue,
  type PreparedEvent,
} from "./event.js";
export { GENESIS_HASH, canonicalJson, computeEventHash, eventCanonicalJson, type HashedFields } from "./canonical.js";
export { REDACTED, isSecretKeyName, redactDetails, redactString } from "./redact.js";
export { AuditLog, type AuditLogOptions, type AuditQuery, type ChainHead } from "./store.js";
export { ChainVerifier, GENESIS_ANCHOR, verifyAuditLog, type ChainAnchor, type VerifyOptions, type VerifyResult } from "./verify.js";
export { MemoryAuditSink, NullAuditSink } from "./memory.js";
