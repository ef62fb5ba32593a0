/**
 * Signed checkpoints: a statement "the chain head at seq S had hash H",
 * signed with a key the writer holds. Stored in the `checkpoints` table (and
 * copied into archive files); the archive anchor is the same statement with
 * kind "archive", meaning "events up to S were archived".
 *
 * The signature covers the UTF-8 bytes of this text (LF line ends, one
 * trailing LF), so any tool can rebuild it:
 *
 *   mesh-audit-checkpoint/1
 *   <kind>        count | time | close | manual | archive
 *   <seq>         decimal
 *   <hash>        64 lowercase hex: the hash of the event at seq
 *   <ts>          RFC 3339 UTC with milliseconds: when it was signed
 *   <key id>      32 lowercase hex (keys.ts)
 *
 * The kind is signed so that a checkpoint cannot be passed off as an archive
 * anchor (which would let someone delete the events it covers).
 */
import { isHashHex } from "./canonical.js";
import type { SignatureCheck, SigningKey, TrustedKeys } from "./keys.js";

export type CheckpointKind = "count" | "time" | "close" | "manual";
export const ANCHOR_KIND = "archive";
export type SignedKind = CheckpointKind | typeof ANCHOR_KIND;

export const CHECKPOINT_KINDS: readonly CheckpointKind[] = ["count", "time", "close", "manual"];

export interface Checkpoint {
  seq: number;
  hash: string;
  ts: string;
  kind: SignedKind;
  keyId: string;
  /** base64 */
  signature: string;
}

/** The table's columns, in the order checkpointFromRow reads them. */
export const CHECKPOINT_COLUMNS = "seq, hash, ts, kind, key_id, signature";

const KEY_ID = /^[0-9a-f]{32}$/;
const TS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export function checkpointMessage(c: Omit<Checkpoint, "signature">): string {
  return `mesh-audit-checkpoint/1\n${c.kind}\n${c.seq}\n${c.hash}\n${c.ts}\n${c.keyId}\n`;
}

export function signCheckpoint(key: SigningKey, c: { seq: number; hash: string; ts: string; kind: SignedKind }): Checkpoint {
  const unsigned = { seq: c.seq, hash: c.hash, ts: c.ts, kind: c.kind, keyId: key.keyId };
  return { ...unsigned, signature: key.sign(checkpointMessage(unsigned)) };
}

/** A checkpoint from a table row or a parsed archive line; undefined when a field has the wrong shape. */
export function toCheckpoint(v: unknown): Checkpoint | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const r = v as Record<string, unknown>;
  const keyId = r.keyId ?? r.key_id;
  const kind = r.kind;
  if (typeof r.seq !== "number" || !Number.isSafeInteger(r.seq) || r.seq < 0) return undefined;
  if (!isHashHex(r.hash) || typeof r.ts !== "string" || !TS.test(r.ts)) return undefined;
  if (typeof keyId !== "string" || !KEY_ID.test(keyId) || typeof r.signature !== "string") return undefined;
  if (kind !== ANCHOR_KIND && !(CHECKPOINT_KINDS as readonly unknown[]).includes(kind)) return undefined;
  return { seq: r.seq, hash: r.hash, ts: r.ts, kind: kind as SignedKind, keyId, signature: r.signature };
}

/** The checkpoint as a table row / archive line: snake_case key_id. */
export function checkpointRecord(c: Checkpoint): Record<string, string | number> {
  return { seq: c.seq, hash: c.hash, ts: c.ts, kind: c.kind, key_id: c.keyId, signature: c.signature };
}

/**
 * Why a signed statement cannot be trusted, or undefined when it can.
 * want "checkpoint" accepts the checkpoint kinds only, "anchor" only "archive".
 */
export function checkpointProblem(keys: TrustedKeys, raw: unknown, want: "checkpoint" | "anchor"): string | undefined {
  const c = toCheckpoint(raw);
  const what = want === "anchor" ? "the archive anchor" : "a checkpoint";
  if (c === undefined) return `${what} is malformed`;
  const label = want === "anchor" ? `the archive anchor at seq ${c.seq}` : `the checkpoint at seq ${c.seq}`;
  if ((c.kind === ANCHOR_KIND) !== (want === "anchor")) return `${label} has kind ${c.kind}`;
  const check: SignatureCheck = keys.check(c.keyId, checkpointMessage(c), c.signature);
  if (check === "unknown_key") return `${label} is signed by key ${c.keyId}, which is not a trusted key`;
  if (check === "bad_signature") return `${label} has a bad signature (forged or edited)`;
  return undefined;
}
