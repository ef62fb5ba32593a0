/** Where each command's audit events go: the CA's own audit.db unless told otherwise. */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { defaultSigningKeyPath } from "../audit/keys.js";
import { AuditLog } from "../audit/store.js";
import { UsageError } from "./run.js";

export function openCaAudit(dir: string, auditDb: string | undefined, creating = false): AuditLog {
  if (!creating && !existsSync(dir)) throw new UsageError(`CA directory ${dir} does not exist (run \`mesh ca init\` first)`);
  if (creating && auditDb === undefined) mkdirSync(dir, { recursive: true, mode: 0o700 });
  return openSignedAudit(auditDb ?? join(dir, "audit.db"));
}

/**
 * Opens an audit log that signs periodic checkpoints with the writer's key
 * (`<db>.key`, created on first use, its public key added to `<db>.keys`),
 * so someone who can write the database but lacks the key cannot rebuild a
 * consistent chain. Every component opens its log this way.
 */
export function openSignedAudit(path: string): AuditLog {
  return AuditLog.open(path, { checkpoints: { keyFile: defaultSigningKeyPath(path), createKey: true } });
}
