/** Where each command's audit events go: the CA's own audit.db unless told otherwise. */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { AuditLog } from "../audit/store.js";
import { UsageError } from "./run.js";

export function openCaAudit(dir: string, auditDb: string | undefined, creating = false): AuditLog {
  if (!creating && !existsSync(dir)) throw new UsageError(`CA directory ${dir} does not exist (run \`mesh ca init\` first)`);
  if (creating && auditDb === undefined) mkdirSync(dir, { recursive: true, mode: 0o700 });
  return AuditLog.open(auditDb ?? join(dir, "audit.db"));
}
