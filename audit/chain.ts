/**
 * The hash chain check (see canonical.ts for the hash definition): rows are
 * pushed in seq order through a ChainVerifier, so memory stays constant
 * however long the log is. The verifier takes rows from anywhere (SQLite,
 * an archive file) and can start from an anchor — the seq and hash of the
 * last event before the first row — so a log whose old events were
 * archived still proves it continues the archive.
 *
 * What each tampering looks like, by firstBadSeq (the first position where
 * the chain fails):
 * - a field of row N edited: hash mismatch at N (if the editor also
 *   recomputed N's hash, row N+1's prev_hash no longer matches: N+1);
 * - row N deleted: seq N missing; rows renumbered to close the gap: N;
 * - a forged row inserted before N (however consistent its own hash): N no
 *   longer links to it (or seq N appears twice / out of place);
 * - rows swapped or a seq changed: the first affected position.
 * Rows rebuilt with fresh hashes from some point on, or a truncated tail,
 * need signed checkpoints to detect (verify.ts).
 */
import { GENESIS_HASH, canonicalJson, computeEventHash, isHashHex } from "./canonical.js";
import { AuditError } from "./errors.js";

export interface ChainResult {
  /** True when every row links and hashes correctly. */
  ok: boolean;
  /** Rows proven good (all of them when ok). */
  count: number;
  /** seq and hash of the last good row (the anchor when there is none). */
  headSeq: number;
  headHash: string;
  /** Where the chain first fails (may name a missing seq). */
  firstBadSeq?: number;
  /** What is wrong there, in words. */
  problem?: string;
}

/** The event the verified rows continue from: genesis is { seq: 0, hash: 64 zeros }. */
export interface ChainAnchor {
  seq: number;
  hash: string;
}

export const GENESIS_ANCHOR: ChainAnchor = { seq: 0, hash: GENESIS_HASH };

const TEXT_COLUMNS = ["ts", "component", "action", "outcome", "actor", "subject", "reason", "details"] as const;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Checks one row's content; returns the problem or undefined. */
function rowProblem(row: Record<string, unknown>, seq: number, prevHash: string): string | undefined {
  for (const col of TEXT_COLUMNS) {
    if (typeof row[col] !== "string") return `seq ${seq}: column ${col} is not text`;
  }
  if (!isHashHex(row.prev_hash) || !isHashHex(row.hash)) {
    return `seq ${seq}: prev_hash or hash is not 64 lowercase hex characters`;
  }
  if (row.prev_hash !== prevHash) {
    return seq === 1 && prevHash === GENESIS_HASH
      ? `seq ${seq}: prev_hash is not the genesis hash (rows before it deleted or forged)`
      : `seq ${seq}: prev_hash does not match the hash of the preceding row (a row was deleted, inserted or reordered)`;
  }
  const detailsJson = row.details as string;
  let details: unknown;
  try {
    details = JSON.parse(detailsJson);
  } catch {
    return `seq ${seq}: details are not valid JSON`;
  }
  let canonical: string;
  try {
    canonical = canonicalJson(details);
  } catch {
    return `seq ${seq}: details hold a value that is not canonical JSON`;
  }
  if (!isPlainObject(details) || canonical !== detailsJson) {
    return `seq ${seq}: details are not a JSON object in canonical form`;
  }
  const hash = computeEventHash({
    seq,
    ts: row.ts as string,
    component: row.component as string,
    action: row.action as string,
    outcome: row.outcome as string,
    actor: row.actor as string,
    subject: row.subject as string,
    reason: row.reason as string,
    detailsJson,
    prev_hash: prevHash,
  });
  if (hash !== row.hash) return `seq ${seq}: hash mismatch (a field of this row was changed)`;
  return undefined;
}

/** Checks rows pushed in seq order against the chain rules. */
export class ChainVerifier {
  private count = 0;
  private headSeq: number;
  private headHash: string;
  private firstBadSeq: number | undefined;
  private problem: string | undefined;

  constructor(anchor: ChainAnchor = GENESIS_ANCHOR) {
    if (!Number.isSafeInteger(anchor.seq) || anchor.seq < 0 || !isHashHex(anchor.hash)) {
      throw new AuditError("invalid_argument", "a chain anchor needs a seq >= 0 and a 64-hex hash");
    }
    this.headSeq = anchor.seq;
    this.headHash = anchor.hash;
  }

  get failed(): boolean {
    return this.problem !== undefined;
  }

  /** Records a failure the caller found (e.g. the rows could not be read). */
  fail(problem: string, seq = this.headSeq + 1): void {
    if (this.failed) return;
    this.firstBadSeq = seq;
    this.problem = problem;
  }

  /** Checks the next row; returns false once the chain has failed (later rows are ignored). */
  push(row: unknown): boolean {
    if (this.failed) return false;
    const expected = this.headSeq + 1;
    if (!isPlainObject(row) || typeof row.seq !== "number" || !Number.isSafeInteger(row.seq)) {
      this.fail(`the row after seq ${this.headSeq} has no integer seq`, expected);
      return false;
    }
    const seq = row.seq;
    if (seq < expected) {
      this.fail(`seq ${seq} is out of place: expected seq ${expected} next`, seq);
      return false;
    }
    if (seq > expected) {
      this.fail(`seq ${expected} is missing: the next row has seq ${seq}`, expected);
      return false;
    }
    const problem = rowProblem(row, seq, this.headHash);
    if (problem !== undefined) {
      this.fail(problem, seq);
      return false;
    }
    this.count += 1;
    this.headSeq = seq;
    this.headHash = row.hash as string;
    return true;
  }

  /** The last good row (the anchor before any). */
  get head(): ChainAnchor {
    return { seq: this.headSeq, hash: this.headHash };
  }

  get verified(): number {
    return this.count;
  }

  result(): ChainResult {
    const base = { ok: !this.failed, count: this.count, headSeq: this.headSeq, headHash: this.headHash };
    return this.failed ? { ...base, firstBadSeq: this.firstBadSeq, problem: this.problem } : base;
  }
}

