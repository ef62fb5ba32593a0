/**
 * The hash chain plus its signed checkpoints, checked together in seq order
 * (the same for the database and for archive files).
 *
 * Each checkpoint must carry a good signature by a trusted key and name the
 * hash the chain really has at its seq. What that adds to the chain alone:
 * - a chain rebuilt with fresh hashes from some event on no longer reaches
 *   the hash a later checkpoint signed: the damage lies between the last
 *   checkpoint that matched and that one, so firstBadSeq is the first seq
 *   after the last match;
 * - a truncated tail: a checkpoint signed a seq beyond the last event;
 * - a forged or edited checkpoint: bad signature, unknown key, or the kind
 *   of an archive anchor.
 * Events after the last checkpoint are covered by the hash chain only
 * (`unsigned` in the summary): removing them together with any later
 * checkpoints cannot be told from a log that simply ended there.
 */
import { ChainVerifier, type ChainAnchor, type ChainResult } from "./chain.js";
import { checkpointProblem, toCheckpoint } from "./checkpoint.js";
import type { TrustedKeys } from "./keys.js";

export interface CheckpointSummary {
  /** Checkpoints whose signature and hash were checked. */
  count: number;
  /** seq of the last checkpoint that matched (or of the signed start: anchor, end of the archives; 0 at genesis). */
  lastSeq: number;
  /** Events after lastSeq: covered by the hash chain only. */
  unsigned: number;
}

const short = (hash: string): string => `${hash.slice(0, 12)}…`;

export class SignedChain {
  readonly chain: ChainVerifier;
  private readonly keys: TrustedKeys;
  private readonly start: ChainAnchor;
  /** The last event the chain accepted before the current head. */
  private prev: ChainAnchor;
  /** The last checkpoint whose hash matched the chain (or the start). */
  private covered: ChainAnchor;
  private checkpoints = 0;
  private failure: { seq: number; problem: string } | undefined;

  constructor(start: ChainAnchor, keys: TrustedKeys) {
    this.chain = new ChainVerifier(start);
    this.keys = keys;
    this.start = start;
    this.prev = start;
    this.covered = start;
  }

  get failed(): boolean {
    return this.failure !== undefined || this.chain.failed;
  }

  get head(): ChainAnchor {
    return this.chain.head;
  }

  pushEvent(row: unknown): boolean {
    if (this.failed) return false;
    const before = this.chain.head;
    if (!this.chain.push(row)) return false;
    this.prev = before;
    return true;
  }

  /** Records a failure found by the caller (unreadable rows, a malformed archive). */
  fail(problem: string, seq = this.head.seq + 1): void {
    if (this.failed) return;
    this.failure = { seq, problem };
  }

  /**
   * A checkpoint at the current head's seq (or at the start's; below it, it
   * covers archived events and only its signature is checked; beyond the
   * last event it means the tail was cut off).
   */
  pushCheckpoint(raw: unknown): boolean {
    if (this.failed) return false;
    const c = toCheckpoint(raw);
    const problem = checkpointProblem(this.keys, raw, "checkpoint");
    if (problem !== undefined || c === undefined) {
      this.fail(problem ?? "a checkpoint is malformed", c?.seq ?? this.head.seq + 1);
      return false;
    }
    if (c.seq < this.start.seq) return true;
    const head = this.head;
    let expected: string;
    if (c.seq === head.seq) expected = head.hash;
    else if (c.seq === this.start.seq) expected = this.start.hash;
    else if (c.seq > head.seq) return this.beyondEnd(c.seq);
    else {
      this.fail(`the checkpoint at seq ${c.seq} is out of place (after seq ${head.seq})`, c.seq);
      return false;
    }
    if (c.hash !== expected && c.seq === this.start.seq) {
      this.fail(`the checkpoint at seq ${c.seq} signed hash ${short(c.hash)} but the chain continues from ${short(expected)} there (anchor or archive mismatch)`, c.seq + 1);
      return false;
    }
    if (c.hash !== expected) {
      const from = this.covered.seq + 1;
      this.fail(
        `events ${from}..${c.seq} were rewritten: the checkpoint at seq ${c.seq} signed hash ${short(c.hash)} but the chain has ${short(expected)} there`,
        from,
      );
      return false;
    }
    this.checkpoints += 1;
    if (c.seq > this.covered.seq) this.covered = { seq: c.seq, hash: c.hash };
    return true;
  }

  /** A genuine checkpoint past the last event: the tail was cut off. */
  private beyondEnd(seq: number): boolean {
    const end = this.head.seq;
    this.fail(`the log ends at seq ${end} but a checkpoint signed seq ${seq}: events ${end + 1}..${seq} were removed`, end + 1);
    return false;
  }

  /** Fails when more than max events after the last checkpoint are unsigned. */
  limitUnsigned(max: number | undefined): void {
    if (max === undefined || this.failed) return;
    const unsigned = this.head.seq - this.covered.seq;
    if (unsigned > max) {
      this.fail(`${unsigned} events after seq ${this.covered.seq} are not covered by a signed checkpoint (more than the ${max} allowed)`, this.covered.seq + 1);
    }
  }

  summary(): CheckpointSummary {
    return { count: this.checkpoints, lastSeq: this.covered.seq, unsigned: this.head.seq - this.covered.seq };
  }

  result(): ChainResult {
    if (this.failure === undefined) return this.chain.result();
    const { seq, problem } = this.failure;
    // Report as good only the rows before the bad seq, ending at a row whose hash is known.
    const candidates = [this.head, this.prev, this.covered, this.start];
    const last = candidates.find((a) => a.seq === seq - 1) ?? (seq - 1 > this.head.seq ? this.head : this.covered);
    return { ok: false, count: Math.max(0, last.seq - this.start.seq), headSeq: last.seq, headHash: last.hash, firstBadSeq: seq, problem };
  }
}
