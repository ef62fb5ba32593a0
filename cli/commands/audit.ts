/** `mesh audit …`: verify (export comes with the audit issue). */
import type { Command } from "commander";
import { existsSync } from "node:fs";
import { verifyAuditLog } from "../../audit/verify.js";
import { printJson } from "../args.js";
import { UsageError } from "../run.js";

export function registerAudit(program: Command): void {
  const audit = program.command("audit").description("the tamper-evident audit log");
  audit
    .command("verify")
    .description("recompute the hash chain; exit 0 only if no event was edited, deleted, inserted or reordered")
    .requiredOption("--db <file>", "audit database")
    .option("--json", "print the result as JSON")
    .action((o) => {
      if (!existsSync(o.db)) throw new UsageError(`audit database ${o.db} does not exist`);
      const r = verifyAuditLog(o.db);
      if (o.json) printJson(r);
      else if (r.ok) process.stdout.write(`ok: ${r.count} events, chain intact, head seq ${r.headSeq} ${r.headHash}\n`);
      else process.stdout.write(`TAMPERED: first bad seq ${r.firstBadSeq}: ${r.problem}\n`);
      if (!r.ok) process.exitCode = 1;
    });
}
