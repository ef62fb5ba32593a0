/**
 * When a writer signs checkpoints, and the SQL to store them.
 *
 * Inside an append's transaction (write lock held) a checkpoint of the new
 * head is signed when the batch crossed a multiple of everyEvents (global
 * seq, so of several keyed writers exactly one signs each multiple) or when
 * this writer's last checkpoint is everyMs old by the log's clock. Most
 * appends therefore pay two comparisons, never a signature. Outside appends
 * (a timer, close(), checkpoint()) the head is signed in its own short
 * transaction if no checkpoint covers it yet.
 */
import type Database from "better-sqlite3";
import { signCheckpoint, type Checkpoint, type CheckpointKind } from "./checkpoint.js";
import { AuditError } from "./errors.js";
import type { SigningKey } from "./keys.js";
import type { ChainHead, HeadReader } from "./sqlite-util.js";

export interface CheckpointPolicy {
  /** Sign when an append reaches a multiple of this seq. Default 1000; 0 turns it off. */
  everyEvents?: number;
  /** ...or at an append this long (by the log's clock) after this writer's last checkpoint; also run by a timer. Default 10 000 ms; 0 turns it off. */
  everyMs?: number;
}

export const DEFAULT_CHECKPOINT_EVERY_EVENTS = 1000;
export const DEFAULT_CHECKPOINT_EVERY_MS = 10_000;

function checkInterval(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 0) throw new AuditError("invalid_argument", `${name} must be an integer >= 0`);
  return value;
}

export class Checkpointer {
  readonly everyEvents: number;
  readonly everyMs: number;
  private readonly key: SigningKey;
  private readonly insert: Database.Statement<unknown[]>;
  private readonly latestSeq: Database.Statement<[], { s: number | null }>;
  private readonly heads: HeadReader;
  private readonly db: Database.Database;
  /** Clock reading (ms) of this writer's last checkpoint, or of its start. */
  private lastMs: number;

  constructor(db: Database.Database, heads: HeadReader, key: SigningKey, policy: CheckpointPolicy, startMs: number) {
    this.everyEvents = checkInterval("checkpoint everyEvents", policy.everyEvents, DEFAULT_CHECKPOINT_EVERY_EVENTS);
    this.everyMs = checkInterval("checkpoint everyMs", policy.everyMs, DEFAULT_CHECKPOINT_EVERY_MS);
    this.db = db;
    this.heads = heads;
    this.key = key;
    this.lastMs = startMs;
    // OR IGNORE: the same key signing the same head twice adds nothing.
    this.insert = db.prepare("INSERT OR IGNORE INTO checkpoints (seq, hash, ts, kind, key_id, signature) VALUES (?, ?, ?, ?, ?, ?)");
    this.latestSeq = db.prepare("SELECT max(seq) AS s FROM checkpoints");
  }

  get keyId(): string {
    return this.key.keyId;
  }

  /** Called inside the append transaction after events fromSeq+1..head.seq were inserted. */
  afterAppend(fromSeq: number, head: ChainHead, nowMs: number, ts: string): void {
    const n = this.everyEvents;
    if (n > 0 && Math.floor(head.seq / n) > Math.floor(fromSeq / n)) this.write(head, ts, "count", nowMs);
    else if (this.everyMs > 0 && nowMs - this.lastMs >= this.everyMs) this.write(head, ts, "time", nowMs);
  }

  /** True when the timer should try a checkpoint. */
  due(nowMs: number): boolean {
    return this.everyMs > 0 && nowMs - this.lastMs >= this.everyMs;
  }

  /**
   * Signs the current head in its own transaction. Unless force, only when
   * no checkpoint (of any writer) covers it yet. Returns what was written.
   */
  checkpointHead(kind: CheckpointKind, now: Date, ts: string, force: boolean): Checkpoint | undefined {
    return this.db
      .transaction((): Checkpoint | undefined => {
        const head = this.heads.get();
        if (head === undefined) return undefined;
        const latest = this.latestSeq.get()?.s ?? 0;
        if (!force && latest >= head.seq) {
          this.lastMs = now.getTime();
          return undefined;
        }
        return this.write(head, ts, kind, now.getTime());
      })
      .immediate();
  }

  private write(head: ChainHead, ts: string, kind: CheckpointKind, nowMs: number): Checkpoint {
    const c = signCheckpoint(this.key, { seq: head.seq, hash: head.hash, ts, kind });
    this.insert.run(c.seq, c.hash, c.ts, c.kind, c.keyId, c.signature);
    this.lastMs = nowMs;
    return c;
  }
}
