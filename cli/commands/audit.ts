/** `mesh audit …`: export here; verify and archive in audit-verify.ts. */
import type { Command } from "commander";
import { closeSync, existsSync, constants as fsConstants, createWriteStream, fchmodSync, openSync, readFileSync, realpathSync, type WriteStream } from "node:fs";
import { once } from "node:events";
import { AuditError } from "../../audit/errors.js";
import { isAuditOutcome } from "../../audit/event.js";
import { EXPORT_FORMATS, exportAuditLog, isExportFormat } from "../../audit/export/export.js";
import type { ExportFilter } from "../../audit/export/reader.js";
import { parseFacility } from "../../audit/export/syslog.js";
import { parseTimeBound } from "../../audit/export/time.js";
import { checkNoShipFlags, runShip, type ShipFlags } from "./audit-ship.js";
import { registerAuditArchive, registerAuditVerify } from "./audit-verify.js";
import { UsageError } from "../run.js";

interface ExportFlags extends ShipFlags {
  db: string;
  format: string;
  since?: string;
  until?: string;
  component?: string;
  action?: string;
  outcome?: string;
  facility: string;
  out?: string;
  follow?: boolean;
}

/** The package version (CEF Device Version); dist/cli/commands/ is three levels below package.json. */
function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version?: unknown };
    return typeof pkg.version === "string" ? pkg.version : "0.0.0";
  } catch {
    return "0.0.0";
  }
}

function timeBound(flag: string, text: string | undefined, now: Date): Date | undefined {
  if (text === undefined) return undefined;
  const d = parseTimeBound(text, now);
  if (d === undefined) throw new UsageError(`${flag} '${text}' is neither an RFC 3339 time nor a duration ago (15m, 2h, 7d)`);
  return d;
}

function exportFilter(o: ExportFlags, now: Date): ExportFilter {
  const filter: ExportFilter = { since: timeBound("--since", o.since, now), until: timeBound("--until", o.until, now) };
  if (filter.since && filter.until && filter.since.getTime() >= filter.until.getTime()) {
    throw new UsageError("--since must be earlier than --until");
  }
  if (o.component !== undefined) {
    if (o.component === "") throw new UsageError("--component must not be empty");
    filter.component = o.component;
  }
  if (o.action !== undefined) {
    const star = o.action.indexOf("*");
    if (o.action === "" || (star !== -1 && star !== o.action.length - 1)) throw new UsageError("--action takes a name, or a prefix followed by one trailing *");
    filter.action = o.action;
  }
  if (o.outcome !== undefined) {
    if (!isAuditOutcome(o.outcome)) throw new UsageError(`--outcome must be success, failure or deny (got '${o.outcome}')`);
    filter.outcome = o.outcome;
  }
  return filter;
}

/** Opens --out for writing: a new file is created 0600 (exactly, whatever the umask); an existing one is truncated and keeps its mode. */
function openOut(path: string, db: string): WriteStream {
  if (existsSync(path) && realpathSync(path) === realpathSync(db)) throw new UsageError("--out must not be the audit database");
  let fd: number;
  try {
    try {
      fd = openSync(path, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
      fchmodSync(fd, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      fd = openSync(path, fsConstants.O_WRONLY | fsConstants.O_TRUNC);
    }
  } catch (err) {
    throw new Error(`cannot write ${path}: ${(err as Error).message}`);
  }
  try {
    return createWriteStream(path, { fd });
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

const isEpipe = (err: unknown): boolean => (err as { code?: unknown } | null)?.code === "EPIPE";

async function runExport(o: ExportFlags): Promise<void> {
  if (!isExportFormat(o.format)) throw new UsageError(`--format must be one of ${EXPORT_FORMATS.join(", ")} (got '${o.format}')`);
  const facility = parseFacility(o.facility);
  if (facility === undefined) throw new UsageError(`--facility '${o.facility}' is not a syslog facility (local0..local7, authpriv, audit, … or 0..23)`);
  const filter = exportFilter(o, new Date());
  if (o.to !== undefined) return runShip(o, { format: o.format, filter, facility, productVersion: packageVersion() });
  checkNoShipFlags(o);
  if (!existsSync(o.db)) throw new AuditError("not_found", `no audit log at ${o.db}`);

  const file = o.out === undefined ? undefined : openOut(o.out, o.db);
  const out = file ?? process.stdout;
  // A reader that went away (`| head`) is a normal end, not an error; this also keeps a late EPIPE from crashing us.
  const onStdoutError = (err: Error): void => {
    if (!isEpipe(err)) process.exitCode = 1;
  };
  if (file === undefined) process.stdout.on("error", onStdoutError);
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  if (o.follow) {
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
  }
  try {
    await exportAuditLog({
      db: o.db,
      format: o.format,
      filter,
      out,
      follow: o.follow === true,
      signal: stop.signal,
      productVersion: packageVersion(),
      facility,
    });
  } catch (err) {
    if (!(file === undefined && isEpipe(err))) throw err;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    if (file !== undefined) {
      file.end();
      if (!file.closed) await once(file, "close");
    }
  }
}

export function registerAudit(program: Command): void {
  const audit = program.command("audit").description("the tamper-evident audit log");
  registerAuditVerify(audit);
  registerAuditArchive(audit);
  audit
    .command("export")
    .description("write events as JSON lines, CSV, CEF or RFC 5424 syslog (the database is opened read-only)")
    .requiredOption("--db <file>", "audit database")
    .option("--format <format>", `${EXPORT_FORMATS.join(", ")}`, "jsonl")
    .option("--since <time>", "events at or after: RFC 3339, or a duration ago (15m, 2h, 7d)")
    .option("--until <time>", "events before: RFC 3339, or a duration ago")
    .option("--component <name>", "only this component")
    .option("--action <name>", "only this action; a trailing * matches a prefix (ca.rotate.*)")
    .option("--outcome <outcome>", "only success, failure or deny")
    .option("--facility <facility>", "syslog facility (name or 0..23)", "local4")
    .option("--out <file>", "write here instead of stdout (created 0600)")
    .option("--follow", "after the backlog, keep writing new events until SIGINT/SIGTERM")
    .option("--to <url>", "ship to a collector instead: tcp://HOST:PORT or tls://HOST:PORT (octet-counted, RFC 5425), at least once")
    .option("--state <file>", "with --to: the cursor file (default <db>.ship-<host>-<port>.state)")
    .option("--ca <file>", "with tls://: CA certificates (PEM) for the collector's certificate (default: system CAs)")
    .option("--cert <file>", "with tls://: client certificate chain (PEM)")
    .option("--key <file>", "with tls://: client key (PEM)")
    .option("--servername <name>", "with tls://: the name the collector's certificate must carry (and SNI)")
    .option("--timeout <duration>", "with --to, without --follow: fail when nothing could be delivered for this long (default 30s)")
    .action((o: ExportFlags) => runExport(o));
}
