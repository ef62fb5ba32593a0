/**
 * The shipping cursor: the seq (and hash) of the last event the collector is
 * known to have read, kept in a small JSON state file so a restart resumes
 * right after it. Written atomically (a 0600 temporary file, fsync, rename,
 * fsync of the directory), so a crash leaves the old cursor or the new one,
 * never a torn file. One exporter per state file.
 */
import { closeSync, fchmodSync, constants as fsConstants, fsyncSync, openSync, readSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { isHashHex } from "../canonical.js";
import { fsyncDirOf, writeAllSync } from "../fs-util.js";
import { ShipError } from "./ship-errors.js";

export interface ShipState {
  /** seq of the last event the collector has read (0: none yet). */
  lastSeq: number;
  /** That event's hash, to recognise the same log on resume ("" when lastSeq is 0). */
  lastHash: string;
  /** The destination, for the operator's eyes (not enforced: a collector may move). */
  to: string;
  /** When this cursor was saved (RFC 3339). */
  savedAt: string;
}

/** A state file is a few hundred bytes; anything much larger is not ours. */
const MAX_STATE_BYTES = 64 * 1024;

/** `<db>.ship-<host>-<port>.state`, the host reduced to file-name-safe characters. */
export function defaultStatePath(db: string, host: string, port: number): string {
  const safeHost = host.replace(/[^A-Za-z0-9._-]/g, "_");
  return join(dirname(db), `${basename(db)}.ship-${safeHost}-${port}.state`);
}

function fail(path: string, why: string, cause?: unknown): never {
  throw new ShipError("state_error", `state file ${path}: ${why}`, { cause });
}

/** The saved state, or undefined when the file does not exist yet. */
export function readShipState(path: string): ShipState | undefined {
  let text: string;
  try {
    const fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK); // a FIFO must not block us
    try {
      const buf = Buffer.alloc(MAX_STATE_BYTES + 1);
      const n = readBounded(fd, buf);
      if (n > MAX_STATE_BYTES) fail(path, `larger than ${MAX_STATE_BYTES} bytes`);
      text = buf.subarray(0, n).toString("utf8");
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    if (err instanceof ShipError) throw err;
    fail(path, (err as Error).message, err);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    fail(path, "not JSON", err);
  }
  if (typeof value !== "object" || value === null) fail(path, "not a JSON object");
  const o = value as Record<string, unknown>;
  const lastSeq = o.last_seq;
  const lastHash = o.last_hash;
  if (typeof lastSeq !== "number" || !Number.isSafeInteger(lastSeq) || lastSeq < 0) fail(path, "last_seq must be an integer >= 0");
  if (typeof lastHash !== "string" || (lastSeq > 0 ? !isHashHex(lastHash) : lastHash !== "")) fail(path, "last_hash must be the event's 64-digit hex hash");
  return {
    lastSeq,
    lastHash,
    to: typeof o.to === "string" ? o.to : "",
    savedAt: typeof o.saved_at === "string" ? o.saved_at : "",
  };
}

/** Reads from fd into buf until EOF or buf is full; returns the byte count. */
function readBounded(fd: number, buf: Buffer): number {
  // readFileSync has no size limit; a bounded read keeps a huge or endless file (a FIFO, /dev/zero) harmless.
  let n = 0;
  for (;;) {
    const got = readSync(fd, buf, n, buf.length - n, null);
    n += got;
    if (got === 0 || n >= buf.length) return n;
  }
}

/** Saves the state atomically with mode 0600. */
export function writeShipState(path: string, state: ShipState): void {
  const body = JSON.stringify({ version: 1, last_seq: state.lastSeq, last_hash: state.lastHash, to: state.to, saved_at: state.savedAt }) + "\n";
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    rmSync(tmp, { force: true }); // a leftover of a crash of this pid: start clean, with our mode
    const fd = openSync(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
    try {
      fchmodSync(fd, 0o600); // exactly 0600, whatever the umask
      writeAllSync(fd, body);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    fail(path, `cannot write: ${(err as Error).message}`, err);
  }
  // The rename is durable once the directory is.
  fsyncDirOf(path);
}
