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
export { AuditLog, type AuditLogOptions, type AuditQuery, type ChainHead, type CheckpointOptions } from "./store.js";
export { ChainVerifier, GENESIS_ANCHOR, type ChainAnchor, type ChainResult } from "./chain.js";
export { verifyAuditLog, type CheckpointSummary, type VerifyOptions, type VerifyResult } from "./verify.js";
export { ANCHOR_KIND, checkpointMessage, signCheckpoint, type Checkpoint, type CheckpointKind } from "./checkpoint.js";
export {
  TrustedKeys,
  addTrustedKey,
  createSigningKey,
  defaultSigningKeyPath,
  defaultTrustedKeysPath,
  generateSigningKey,
  keyIdOf,
  loadSigningKey,
  openSigningKey,
  type KeyAlgorithm,
  type SigningKey,
} from "./keys.js";
export { archiveAuditLog, type ArchiveOptions, type ArchiveResult } from "./archive.js";
export { verifyArchiveFile, type ArchiveCheck } from "./archive-file.js";
export { MemoryAuditSink, NullAuditSink } from "./memory.js";
