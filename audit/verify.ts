/**
 * `mesh audit verify`: proves a log untampered — the hash chain (chain.ts),
 * the signed checkpoints and the archive anchor (signed-chain.ts), and
 * optionally the archive files the log continues (archive-file.ts) — in
 * one read transaction, paging through events and checkpoints in seq order
 * so memory stays flat however long the log is.
 *
 * Where the checked rows start:
 * - with archive files: from genesis through every file in order, then the
 *   database must continue exactly where the last file ends (its anchor);
 * - else with the database's archive anchor: from there, if its signature
 *   is good (events before it are vouched for by the anchor alone);
 * - else from genesis (or an anchor the caller gives).
 * Rows at or below the start (left by an interrupted archive run) are
 * ignored.
 */
import { existsSync, statSync } from "node:fs";
import Database from "better-sqlite3";
import { verifyArchiveFile } from "./archive-file.js";
import { GENESIS_ANCHOR, type ChainAnchor, type ChainResult } from "./chain.js";
import { CHECKPOINT_COLUMNS, checkpointProblem, toCheckpoint } from "./checkpoint.js";
import { AuditError } from "./errors.js";
import { TrustedKeys, defaultTrustedKeysPath } from "./keys.js";
import { EVENT_COLUMNS } from "./query.js";
import { CHECKPOINTS_SCHEMA_VERSION, TRIGGERS, checkSchema } from "./schema.js";
import { SignedChain, type CheckpointSummary } from "./signed-chain.js";

export { ChainVerifier, GENESIS_ANCHOR, type ChainAnchor, type ChainResult } from "./chain.js";
export type { CheckpointSummary } from "./signed-chain.js";

export interface VerifyResult extends ChainResult {
  /** Signed checkpoints checked, and how many events at the end only the hash chain covers. */
  checkpoints: CheckpointSummary;
  /** Where the checked chain starts. */
  start: ChainAnchor & { from: "genesis" | "anchor" | "archives" | "option" };
  /** Events proven in the archive files given (included in count). */
  archived?: number;
  /** Not failures, but worth an auditor's attention (a dropped trigger, unsigned events, unchecked archives). */
  warnings?: string[];
}

export interface VerifyOptions {
  /** Where the rows continue from when the database has no archive anchor (default: genesis). */
  anchor?: ChainAnchor;
  /** The trusted public keys; default: the file keysFile, or `<db>.keys` when it exists. */
  keys?: TrustedKeys;
  keysFile?: string;
  /** Archive files, oldest first, that the database continues. */
  archives?: readonly string[];
  /** Fail when more events than this at the end are covered by no signed checkpoint. */
  maxUnsigned?: number;
}

const PAGE = 2000;
const normalize = (sql: string): string => sql.replace(/\s+/g, " ").trim();

function triggerWarnings(db: Database.Database, version: number): string[] {
  const rows = db.prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'trigger'").all() as { name: string; sql: string | null }[];
  const found = new Map(rows.map((r) => [r.name, normalize(r.sql ?? "")]));
  const names = version >= CHECKPOINTS_SCHEMA_VERSION ? Object.keys(TRIGGERS) : ["events_no_update", "events_no_delete"];
  const out: string[] = [];
  for (const name of names) {
    const sql = found.get(name);
    if (sql === undefined) out.push(`append-only trigger ${name} is missing`);
    else if (version >= CHECKPOINTS_SCHEMA_VERSION && sql !== normalize(TRIGGERS[name as keyof typeof TRIGGERS])) out.push(`append-only trigger ${name} was altered`);
  }
  return out;
}

function loadKeys(db: string, o: VerifyOptions, warnings: string[]): { keys: TrustedKeys; hint: string } {
  if (o.keys !== undefined) return { keys: o.keys, hint: "" };
  const file = o.keysFile ?? defaultTrustedKeysPath(db);
  try {
    const keys = TrustedKeys.load(file);
    if (keys.warning !== undefined) warnings.push(keys.warning);
    return { keys, hint: "" };
  } catch (err) {
    if (o.keysFile !== undefined || !(err instanceof AuditError && err.code === "not_found")) throw err;
    return { keys: TrustedKeys.none(), hint: ` (no trusted keys: ${file} does not exist; pass --keys)` };
  }
}

/** Rows of stmt (taking `after` and a limit) page by page, in seq order. No statement stays open between pages. */
function* paged(stmt: Database.Statement<unknown[], Record<string, unknown>>, after: number): Generator<Record<string, unknown>> {
  let cursor = after;
  for (;;) {
    const rows = stmt.all(cursor, PAGE);
    for (const r of rows) yield r;
    if (rows.length < PAGE) return;
    const last = rows[rows.length - 1].seq;
    if (typeof last !== "number") return;
    cursor = last;
  }
}

interface Start {
  anchor: ChainAnchor & { from: VerifyResult["start"]["from"] };
  archived: number;
  failure?: ChainResult;
  /** Rows at or below the start are leftovers of archiving (an anchor or archives exist), not out of place. */
  skipBelow?: boolean;
}

/** Checks the archives and the database's anchor; decides where the database's rows start. */
function chooseStart(db: Database.Database, version: number, o: VerifyOptions, keys: TrustedKeys, warnings: string[]): Start {
  const row = version >= CHECKPOINTS_SCHEMA_VERSION ? db.prepare(`SELECT ${CHECKPOINT_COLUMNS} FROM archive_anchor WHERE id = 1`).get() : undefined;
  const fail = (at: ChainAnchor, archived: number, problem: string): Start => ({
    anchor: { ...at, from: "genesis" },
    archived,
    failure: { ok: false, count: archived, headSeq: at.seq, headHash: at.hash, firstBadSeq: at.seq + 1, problem },
  });
  let from: Start["anchor"] = { ...(o.anchor ?? GENESIS_ANCHOR), from: o.anchor ? "option" : "genesis" };
  let archived = 0;
  if (o.archives !== undefined && o.archives.length > 0) {
    let end: ChainAnchor = GENESIS_ANCHOR;
    for (const file of o.archives) {
      const a = verifyArchiveFile(file, keys, end);
      if (!a.result.ok) {
        const count = archived + a.result.count;
        return { anchor: { ...end, from: "archives" }, archived: count, failure: { ...a.result, count, problem: `archive ${file}: ${a.result.problem}` } };
      }
      archived += a.result.count;
      end = a.end;
    }
    from = { ...end, from: "archives" };
  }
  if (row === undefined) return { anchor: from, archived, skipBelow: from.from === "archives" };
  const anchor = toCheckpoint(row);
  const problem = checkpointProblem(keys, row, "anchor");
  if (problem !== undefined || anchor === undefined) return fail(from, archived, `${problem ?? "the archive anchor is malformed"}: events before it cannot be accounted for`);
  if (from.from === "genesis") {
    warnings.push(`events 1..${anchor.seq} were archived (anchor signed ${anchor.ts} by key ${anchor.keyId}); pass the archive files to check them`);
    return { anchor: { seq: anchor.seq, hash: anchor.hash, from: "anchor" }, archived, skipBelow: true };
  }
  if (anchor.seq !== from.seq || anchor.hash !== from.hash) {
    return fail(from, archived, `the database continues from an archive anchor at seq ${anchor.seq}, but the ${from.from === "archives" ? "archives end" : "given anchor is"} at seq ${from.seq}`);
  }
  return { anchor: from, archived, skipBelow: true };
}

/** Checks the rows after start (all rows when skipBelow is false) merged with the checkpoints, in seq order. */
function checkRows(db: Database.Database, version: number, start: ChainAnchor, keys: TrustedKeys, skipBelow: boolean): SignedChain {
  const sc = new SignedChain(start, keys);
  try {
    const events = db.prepare<unknown[], Record<string, unknown>>(`SELECT ${EVENT_COLUMNS} FROM events WHERE seq > ? ORDER BY seq LIMIT ?`);
    const cps =
      version >= CHECKPOINTS_SCHEMA_VERSION
        ? paged(db.prepare<unknown[], Record<string, unknown>>(`SELECT ${CHECKPOINT_COLUMNS} FROM checkpoints WHERE seq > ? ORDER BY seq LIMIT ?`), start.seq - 1)
        : undefined;
    let next = cps?.next();
    const drainUpTo = (seq: number): boolean => {
      while (next !== undefined && next.done !== true && (next.value.seq as number) <= seq) {
        if (!sc.pushCheckpoint(next.value)) return false;
        next = cps?.next();
      }
      return true;
    };
    if (!drainUpTo(start.seq)) return sc;
    // Without an anchor a row at or below the start is out of place; with one it is left over from archiving.
    for (const row of paged(events, skipBelow ? start.seq : Number.MIN_SAFE_INTEGER)) {
      if (!sc.pushEvent(row) || !drainUpTo(row.seq as number)) return sc;
    }
    // Anything left lies beyond the last event.
    drainUpTo(Number.MAX_SAFE_INTEGER);
  } catch (err) {
    sc.fail(`cannot read the audit tables: ${(err as Error).message}`);
  }
  return sc;
}

/**
 * Opens the log read-only and verifies it. Throws AuditError when the file
 * (or an explicitly given keys or archive file) is missing or not what it
 * should be; tampering is reported in the result.
 */
export function verifyAuditLog(path: string, opts: VerifyOptions = {}): VerifyResult {
  if (!existsSync(path) || !statSync(path).isFile()) throw new AuditError("not_found", `no audit log at ${path}`);
  if (opts.maxUnsigned !== undefined && (!Number.isSafeInteger(opts.maxUnsigned) || opts.maxUnsigned < 0)) {
    throw new AuditError("invalid_argument", "maxUnsigned must be an integer >= 0");
  }
  const warnings: string[] = [];
  const { keys, hint } = loadKeys(path, opts, warnings);
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new AuditError("store_error", `cannot open audit log ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const version = checkSchema(db);
    if (version === 0) throw new AuditError("unsupported_schema", `${path} is not an initialized audit log`);
    warnings.push(...triggerWarnings(db, version));
    // One snapshot for the anchor, the events and the checkpoints, even while others append.
    db.exec("BEGIN");
    try {
      const start = chooseStart(db, version, opts, keys, warnings);
      const summaryAt = (seq: number): CheckpointSummary => ({ count: 0, lastSeq: seq, unsigned: 0 });
      if (start.failure !== undefined) return finish({ ...start.failure, checkpoints: summaryAt(start.anchor.seq), start: start.anchor }, start.archived, warnings, hint);
      const sc = checkRows(db, version, start.anchor, keys, start.skipBelow === true);
      sc.limitUnsigned(opts.maxUnsigned);
      const chain = sc.result();
      const summary = sc.summary();
      if (chain.ok && summary.unsigned > 0) {
        warnings.push(`${summary.unsigned} events after seq ${summary.lastSeq} are covered by the hash chain only (no signed checkpoint yet): a cut-off tail there would not show`);
      }
      return finish({ ...chain, count: chain.count + start.archived, checkpoints: summary, start: start.anchor }, start.archived, warnings, hint);
    } finally {
      db.exec("COMMIT");
    }
  } finally {
    db.close();
  }
}

function finish(r: VerifyResult, archived: number, warnings: string[], hint: string): VerifyResult {
  const out: VerifyResult = { ...r };
  if (archived > 0) out.archived = archived;
  if (!out.ok && hint !== "" && /not a trusted key/.test(out.problem ?? "")) out.problem = `${out.problem}${hint}`;
  if (warnings.length > 0) out.warnings = warnings;
  return out;
}
