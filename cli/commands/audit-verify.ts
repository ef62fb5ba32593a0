/**
 * `mesh audit verify` and `mesh audit archive`. Exit codes: 0 all holds
 * (archive: done, or nothing to do), 1 tampering found or an error (a
 * missing database included), 2 usage.
 */
import type { Command } from "commander";
import { archiveAuditLog, type ArchiveResult } from "../../audit/archive.js";
import { parseTimeBound } from "../../audit/export/time.js";
import { TrustedKeys, defaultSigningKeyPath, defaultTrustedKeysPath, loadSigningKey } from "../../audit/keys.js";
import { verifyAuditLog, type VerifyResult } from "../../audit/verify.js";
import { printJson } from "../args.js";
import { UsageError } from "../run.js";

interface VerifyFlags {
  db: string;
  keys?: string;
  archive: string[];
  maxUnsigned?: string;
  json?: boolean;
}

interface ArchiveFlags {
  db: string;
  before?: string;
  uptoSeq?: string;
  out: string;
  key?: string;
  keys?: string;
  json?: boolean;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

function wholeNumber(flag: string, text: string, min: number): number {
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text)) || Number(text) < min) throw new UsageError(`${flag} takes a whole number >= ${min} (got '${text}')`);
  return Number(text);
}

function verifyText(r: VerifyResult): string {
  const lines: string[] = [];
  if (r.ok) {
    const from = r.start.from === "genesis" || r.start.from === "option" ? "" : ` (continuing the ${r.start.from} at seq ${r.start.seq})`;
    lines.push(`ok: ${r.count} events, chain intact${from}, head seq ${r.headSeq} ${r.headHash}`);
    lines.push(`checkpoints: ${r.checkpoints.count} signed checkpoints verified; last signed seq ${r.checkpoints.lastSeq}, ${r.checkpoints.unsigned} events after it`);
  } else {
    lines.push(`TAMPERED: first bad seq ${r.firstBadSeq}: ${r.problem}`);
  }
  for (const w of r.warnings ?? []) lines.push(`warning: ${w}`);
  return lines.join("\n") + "\n";
}

function archiveText(r: ArchiveResult): string {
  if (r.file === undefined) return `nothing to archive: ${r.reason ?? "no events"}\n`;
  return `archived events ${r.fromSeq + 1}..${r.uptoSeq} (${r.events} events, ${r.checkpoints} checkpoints) to ${r.file}; the log now continues from seq ${r.uptoSeq}\n`;
}

export function registerAuditVerify(audit: Command): void {
  audit
    .command("verify")
    .description("check the hash chain, signed checkpoints and archive anchor; exit 0 only if no event was edited, deleted, inserted, reordered or cut off")
    .requiredOption("--db <file>", "audit database")
    .option("--keys <file>", "trusted public keys, PEM (default <db>.keys when it exists)")
    .option("--archive <file>", "an archive file the database continues; repeat, oldest first", collect, [])
    .option("--max-unsigned <n>", "also fail when more than n events at the end have no signed checkpoint")
    .option("--json", "print the result as JSON")
    .action((o: VerifyFlags) => {
      const maxUnsigned = o.maxUnsigned === undefined ? undefined : wholeNumber("--max-unsigned", o.maxUnsigned, 0);
      const r = verifyAuditLog(o.db, { keysFile: o.keys, archives: o.archive, maxUnsigned });
      if (o.json) printJson(r);
      else process.stdout.write(verifyText(r));
      if (!r.ok) process.exitCode = 1;
    });
}

export function registerAuditArchive(audit: Command): void {
  audit
    .command("archive")
    .description("move old events to a file and remove them from the database, leaving a signed anchor the rest of the chain continues from")
    .requiredOption("--db <file>", "audit database")
    .option("--before <time>", "archive the events before this time: RFC 3339, or a duration ago (30d)")
    .option("--upto-seq <n>", "archive the events up to this seq")
    .requiredOption("--out <file>", "the archive file to create (JSON lines, 0600; never overwritten)")
    .option("--key <file>", "signing key for the anchor (default <db>.key)")
    .option("--keys <file>", "trusted public keys the log is verified with first (default <db>.keys)")
    .option("--json", "print the result as JSON")
    .action((o: ArchiveFlags) => {
      if ((o.before === undefined) === (o.uptoSeq === undefined)) throw new UsageError("give exactly one of --before and --upto-seq");
      let before: Date | undefined;
      if (o.before !== undefined) {
        before = parseTimeBound(o.before, new Date());
        if (before === undefined) throw new UsageError(`--before '${o.before}' is neither an RFC 3339 time nor a duration ago (30d, 12h)`);
      }
      const uptoSeq = o.uptoSeq === undefined ? undefined : wholeNumber("--upto-seq", o.uptoSeq, 1);
      const key = loadSigningKey(o.key ?? defaultSigningKeyPath(o.db));
      const keys = TrustedKeys.load(o.keys ?? defaultTrustedKeysPath(o.db));
      const r = archiveAuditLog({ db: o.db, out: o.out, before, uptoSeq, key, keys });
      if (o.json) printJson(r);
      else process.stdout.write(archiveText(r));
    });
}
