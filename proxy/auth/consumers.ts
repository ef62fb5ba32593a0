/**
 * Credential files for the HMAC and API-key providers (Kong keeps these in
 * its database; here they are files next to the config).
 *
 * A file is read when the provider is built: a bad file stops the proxy from
 * starting. After that it is re-checked by stat at most every
 * RELOAD_CHECK_MS of request time (the provider's clock, so tests need no
 * timers and an idle proxy does no work). A changed file is read again; when
 * it turns bad (unparsable, too big, gone) the last good table stays in use
 * and the problem is kept in status(). The check is synchronous on the
 * request that notices the change, and bounded: one stat per file, and a
 * read (at most MAX_CREDENTIAL_FILE_BYTES) only when something changed.
 *
 * Error messages name the file and the entry, never a value from it: these
 * files hold secrets, and YAML parser messages quote the offending line, so
 * only their first line (which does not) is kept.
 */
import { readFileSync, statSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import { ProxyError } from "../errors.js";

/** How often (at most) a credential file is stat'ed for changes. */
export const RELOAD_CHECK_MS = 2000;
/** Largest credential file read (a table of about 10,000 entries). */
export const MAX_CREDENTIAL_FILE_BYTES = 1024 * 1024;

/** What a loader read: the table, and every file it came from (watched for changes). */
export interface LoadedTable<T> {
  readonly value: T;
  /** The main file first, then files it refers to (e.g. per-consumer secret files). */
  readonly files: readonly string[];
  readonly entries: number;
}

export interface CredentialFileStatus {
  readonly path: string;
  /** Entries in the table in use. */
  readonly entries: number;
  /** When the table in use was read. */
  readonly loadedAt: Date;
  /** The last reload failure (the previous table stays in use); cleared by a good reload. */
  readonly lastError?: string;
  /** Files open to group or others (0600 is recommended for files holding secrets). */
  readonly warnings: readonly string[];
}

/** A path from the config, relative to baseDir unless absolute. */
export function resolveFrom(baseDir: string, path: string): string {
  return isAbsolute(path) ? path : resolve(baseDir, path);
}

export function credentialError(source: string, what: string, cause?: unknown): ProxyError {
  return new ProxyError("invalid_config", `${source}: ${what}`, cause === undefined ? {} : { cause });
}

/** Reads a whole text file of at most maxBytes; failures are ProxyError("invalid_config") naming the file. */
export function readBoundedText(path: string, maxBytes: number, what: string): string {
  try {
    if (statSync(path).size > maxBytes) throw credentialError(path, `${what} is larger than ${maxBytes} bytes`);
    const text = readFileSync(path, "utf8");
    // The file may have grown between stat and read.
    if (Buffer.byteLength(text, "utf8") > maxBytes) throw credentialError(path, `${what} is larger than ${maxBytes} bytes`);
    return text;
  } catch (err) {
    if (err instanceof ProxyError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? "error";
    throw credentialError(path, `cannot read ${what} (${code})`, err);
  }
}

/** Parses YAML (or JSON) without aliases; the error keeps only the parser's first line (no file content). */
export function parseYamlText(text: string, source: string): unknown {
  try {
    return parseYaml(text.replace(/^\uFEFF/, ""), { maxAliasCount: 0, uniqueKeys: true });
  } catch (err) {
    const first = String((err as Error).message).split("\n")[0]!.replace(/:$/, "");
    throw credentialError(source, `not valid YAML/JSON: ${first}`);
  }
}

/** Validates a parsed document; the error lists up to five issues as `path: message` (zod messages carry no values). */
export function checkDocument<T>(schema: z.ZodType<T>, doc: unknown, source: string): T {
  const r = schema.safeParse(doc);
  if (r.success) return r.data;
  const lines = r.error.issues.slice(0, 5).map((i) => `${i.path.length ? formatPath(i.path) + ": " : ""}${i.message}`);
  const more = r.error.issues.length > 5 ? ` (and ${r.error.issues.length - 5} more)` : "";
  throw credentialError(source, lines.join("; ") + more);
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : `${i === 0 ? "" : "."}${String(p)}`)).join("");
}

interface FileState {
  readonly signature: string;
  readonly warnings: string[];
}

/** One stat per file: a change signature, and permission warnings. */
function statFiles(files: readonly string[]): FileState {
  const parts: string[] = [];
  const warnings: string[] = [];
  for (const f of files) {
    try {
      const st = statSync(f);
      parts.push(`${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}:${st.mode}`);
      if ((st.mode & 0o077) !== 0) {
        warnings.push(`${f} is accessible by group or others (mode ${(st.mode & 0o777).toString(8).padStart(4, "0")}); 0600 is recommended`);
      }
    } catch (err) {
      parts.push(`missing:${(err as NodeJS.ErrnoException).code ?? "error"}`);
    }
  }
  return { signature: parts.join("|"), warnings };
}

/**
 * A table loaded from a credential file and reloaded when it (or a file it
 * refers to) changes. `load` reads and validates synchronously and throws
 * ProxyError("invalid_config") for a bad file.
 */
export class CredentialFile<T> {
  private table: LoadedTable<T>;
  private state: FileState;
  private loadedAtMs: number;
  private checkedAtMs: number;
  private lastError: string | undefined;

  constructor(
    readonly path: string,
    private readonly load: (path: string) => LoadedTable<T>,
    nowMs: number,
    private readonly intervalMs = RELOAD_CHECK_MS,
  ) {
    // Stat before reading: a change made during the read is then seen next time.
    const before = statFiles([path]);
    this.table = load(path);
    this.state = this.table.files.length > 1 ? statFiles(this.table.files) : before;
    this.loadedAtMs = nowMs;
    this.checkedAtMs = nowMs;
  }

  /** The table in use, after a reload check when the interval has passed (or the clock stepped back). */
  current(nowMs: number): T {
    if (nowMs - this.checkedAtMs >= this.intervalMs || nowMs < this.checkedAtMs) this.check(nowMs);
    return this.table.value;
  }

  /** Stats the files now and reloads them if they changed. Returns true when a new table was loaded. */
  check(nowMs: number): boolean {
    this.checkedAtMs = nowMs;
    const now = statFiles(this.table.files);
    if (now.signature === this.state.signature) return false;
    let next: LoadedTable<T>;
    try {
      next = this.load(this.path);
    } catch (err) {
      // Keep the last good table. The state is not updated, so the next check reads
      // again: the fix may be a file the old table did not refer to (a new secret_file).
      this.lastError = err instanceof Error ? err.message : String(err);
      return false;
    }
    const sameFiles = next.files.length === this.table.files.length && next.files.every((f, i) => f === this.table.files[i]);
    this.table = next;
    // `now` was taken before the read, so a change made during the read is seen next time.
    this.state = sameFiles ? now : statFiles(next.files);
    this.loadedAtMs = nowMs;
    this.lastError = undefined;
    return true;
  }

  status(): CredentialFileStatus {
    return {
      path: this.path,
      entries: this.table.entries,
      loadedAt: new Date(this.loadedAtMs),
      ...(this.lastError === undefined ? {} : { lastError: this.lastError }),
      warnings: statFiles(this.table.files).warnings,
    };
  }
}
