/**
 * The htpasswd user file of the Basic provider: `user:hash` per line (blank
 * lines and lines starting with # are skipped), read with bounded sizes. A
 * bad line refuses the whole file and names its line number (and the user,
 * never the hash). HtpasswdFile loads the file once at start (errors throw:
 * nothing starts), then follows changes (fs.watch on the folder plus a stat
 * poll, for editors and config maps that replace the file); a reload that
 * fails keeps the last good table and is reported once.
 */
import { createHash } from "node:crypto";
import { closeSync, fstatSync, openSync, readSync, watch, type FSWatcher, type Stats } from "node:fs";
import { open, stat } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { ProxyError } from "../errors.js";
import { defaultDummyHash, dummyHashLike, parseStoredHash, type StoredHash } from "./htpasswd-hash.js";

export const HTPASSWD_LIMITS = {
  fileBytes: 4 * 1024 * 1024,
  users: 100_000,
  lineLength: 1024,
  userLength: 256,
  /** Problems listed in one error before "and N more". */
  problemsShown: 10,
} as const;

export interface HtpasswdTable {
  readonly users: ReadonlyMap<string, StoredHash>;
  /** Checked for unknown users: same kind and cost as most entries, matches nothing. */
  readonly dummy: StoredHash;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

function costKey(h: StoredHash): string {
  return h.kind === "bcrypt" ? `b${h.cost}` : `s${h.ln},${h.r},${h.p},${h.salt.length},${h.key.length}`;
}

/** The dummy copies the most common hash parameters, so an unknown user costs what most users cost. */
function pickDummy(users: ReadonlyMap<string, StoredHash>): StoredHash {
  const counts = new Map<string, { n: number; h: StoredHash }>();
  let best: { n: number; h: StoredHash } | undefined;
  for (const h of users.values()) {
    const k = costKey(h);
    const c = counts.get(k) ?? { n: 0, h };
    c.n++;
    counts.set(k, c);
    if (!best || c.n > best.n) best = c;
  }
  return best ? dummyHashLike(best.h) : defaultDummyHash();
}

/** Parses the file's text; throws ProxyError("invalid_config") listing each bad line by number. */
export function parseHtpasswd(text: string, source: string): HtpasswdTable {
  const users = new Map<string, StoredHash>();
  const problems: string[] = [];
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const lines = body.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/[ \t\r]+$/, "");
    const at = `line ${i + 1}`;
    if (line === "" || line.startsWith("#")) continue;
    if (line.length > HTPASSWD_LIMITS.lineLength) {
      problems.push(`${at}: longer than ${HTPASSWD_LIMITS.lineLength} characters`);
      continue;
    }
    const colon = line.indexOf(":");
    if (colon < 0) {
      problems.push(`${at}: expected user:hash`);
      continue;
    }
    const user = line.slice(0, colon);
    const hashText = line.slice(colon + 1);
    if (user === "" || user.length > HTPASSWD_LIMITS.userLength || CONTROL.test(user) || /^\s|\s$/.test(user)) {
      problems.push(`${at}: the user name must be 1..${HTPASSWD_LIMITS.userLength} characters without control characters or surrounding spaces`);
      continue;
    }
    const who = `${at} (user ${JSON.stringify(user)})`;
    if (hashText.includes(":")) {
      problems.push(`${who}: expected user:hash with one ':' (htdigest files are not supported)`);
      continue;
    }
    if (users.has(user)) {
      problems.push(`${who}: the user is listed twice`);
      continue;
    }
    const parsed = parseStoredHash(hashText);
    if (!parsed.ok) {
      problems.push(`${who}: ${parsed.problem}`);
      continue;
    }
    if (users.size >= HTPASSWD_LIMITS.users) {
      problems.push(`${at}: more than ${HTPASSWD_LIMITS.users} users`);
      break;
    }
    users.set(user, parsed.hash);
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, HTPASSWD_LIMITS.problemsShown);
    const more = problems.length - shown.length;
    throw new ProxyError("invalid_config", `${source}: ${shown.join("; ")}${more > 0 ? `; and ${more} more` : ""}`);
  }
  return { users, dummy: pickDummy(users) };
}

function tooBig(source: string): ProxyError {
  return new ProxyError("invalid_config", `${source}: larger than ${HTPASSWD_LIMITS.fileBytes} bytes`);
}

/** Reads at most the size limit through one descriptor (the file may be replaced between calls). */
function readBoundedSync(path: string): { text: string; stats: Stats } {
  const fd = openSync(path, "r");
  try {
    const stats = fstatSync(fd);
    if (stats.size > HTPASSWD_LIMITS.fileBytes) throw tooBig(path);
    const buf = Buffer.alloc(HTPASSWD_LIMITS.fileBytes + 1);
    let n = 0;
    for (let r; n < buf.length && (r = readSync(fd, buf, n, buf.length - n, null)) > 0; ) n += r;
    if (n > HTPASSWD_LIMITS.fileBytes) throw tooBig(path);
    return { text: buf.subarray(0, n).toString("utf8"), stats };
  } finally {
    closeSync(fd);
  }
}

async function readBounded(path: string): Promise<{ text: string; stats: Stats }> {
  const fh = await open(path, "r");
  try {
    const stats = await fh.stat();
    if (stats.size > HTPASSWD_LIMITS.fileBytes) throw tooBig(path);
    const buf = Buffer.alloc(Math.min(stats.size + 1, HTPASSWD_LIMITS.fileBytes + 1));
    let n = 0;
    for (let r; n < buf.length && (r = (await fh.read(buf, n, buf.length - n, null)).bytesRead) > 0; ) n += r;
    if (n > HTPASSWD_LIMITS.fileBytes) throw tooBig(path);
    // A file that grew between stat and read: read it again next time rather than trust a cut copy.
    if (n === buf.length) throw new Error("the file changed while it was read");
    return { text: buf.subarray(0, n).toString("utf8"), stats };
  } finally {
    await fh.close();
  }
}

function signature(s: Stats): string {
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
}

export interface FileReport {
  readonly level: "error" | "warn" | "info";
  /** Stable: htpasswd_reload_failed, htpasswd_reloaded, htpasswd_permissions, htpasswd_watch_failed. */
  readonly code: string;
  readonly message: string;
}

export interface HtpasswdFileOptions {
  /** Absolute path. */
  readonly path: string;
  /** Stat poll period in ms (0: no poll). */
  readonly pollMs: number;
  /** Follow changes with fs.watch too (default true). */
  readonly watch?: boolean;
  readonly report?: (r: FileReport) => void;
  /** Called after a new table replaced the old one. */
  readonly onChange?: () => void;
}

export class HtpasswdFile {
  private current: HtpasswdTable;
  private sig: string;
  private digest: string;
  private gen = 1;
  private lastProblem: string | undefined;
  private permissionsWarned = false;
  private running: Promise<void> | undefined;
  private again = false;
  private watcher: FSWatcher | undefined;
  private poller: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly opts: HtpasswdFileOptions) {
    let read: { text: string; stats: Stats };
    try {
      read = readBoundedSync(opts.path);
    } catch (err) {
      if (err instanceof ProxyError) throw err;
      throw new ProxyError("invalid_config", `${opts.path}: cannot read the htpasswd file (${(err as NodeJS.ErrnoException).code ?? "error"})`);
    }
    this.current = parseHtpasswd(read.text, opts.path);
    this.sig = signature(read.stats);
    this.digest = sha256(read.text);
    this.checkPermissions(read.stats);
    if (opts.watch !== false) this.startWatch();
    if (opts.pollMs > 0) {
      this.poller = setInterval(() => void this.refresh(), opts.pollMs);
      this.poller.unref();
    }
  }

  get table(): HtpasswdTable {
    return this.current;
  }

  /** Bumped each time a different table replaces the current one. */
  get generation(): number {
    return this.gen;
  }

  /** The last reload problem, or undefined when the file on disk is the one in use. */
  get problem(): string | undefined {
    return this.lastProblem;
  }

  /** Looks at the file now and reloads it if it changed; resolves when done (concurrent calls share one run). */
  refresh(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.check().finally(() => {
      this.running = undefined;
      if (this.again && !this.closed) {
        this.again = false;
        void this.refresh();
      }
    });
    return this.running;
  }

  close(): void {
    this.closed = true;
    this.watcher?.close();
    if (this.poller) clearInterval(this.poller);
    if (this.debounce) clearTimeout(this.debounce);
  }

  private async check(): Promise<void> {
    try {
      const stats = await stat(this.opts.path);
      if (signature(stats) === this.sig && this.lastProblem === undefined) return;
      const read = await readBounded(this.opts.path);
      const digest = sha256(read.text);
      this.checkPermissions(read.stats);
      if (digest !== this.digest) {
        const table = parseHtpasswd(read.text, this.opts.path);
        if (this.closed) return;
        this.current = table;
        this.digest = digest;
        this.gen++;
        this.opts.onChange?.();
        this.report("info", "htpasswd_reloaded", `${this.opts.path}: reloaded (${table.users.size} users)`);
      }
      this.sig = signature(read.stats);
      this.lastProblem = undefined;
    } catch (err) {
      const why = err instanceof ProxyError ? err.message : `${this.opts.path}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
      // Reported once per distinct problem; the last good table stays in use.
      if (why !== this.lastProblem) this.report("error", "htpasswd_reload_failed", `${why}; keeping the last good user table`);
      this.lastProblem = why;
    }
  }

  private checkPermissions(stats: Stats): void {
    if (this.permissionsWarned || process.platform === "win32" || (stats.mode & 0o077) === 0) return;
    this.permissionsWarned = true;
    const mode = (stats.mode & 0o777).toString(8).padStart(4, "0");
    this.report("warn", "htpasswd_permissions", `${this.opts.path}: mode ${mode} lets other users read the password hashes; chmod 600 is recommended`);
  }

  private startWatch(): void {
    const name = basename(this.opts.path);
    try {
      // The folder, not the file: editors and Kubernetes replace the file, which ends a watch on it.
      this.watcher = watch(dirname(this.opts.path), { persistent: false }, (_event, file) => {
        if (file !== null && file !== name && !String(file).startsWith("..")) return;
        if (this.debounce) clearTimeout(this.debounce);
        this.debounce = setTimeout(() => void this.refresh(), 50);
        this.debounce.unref();
      });
      this.watcher.on("error", (err) => {
        this.report("warn", "htpasswd_watch_failed", `${this.opts.path}: file watch stopped (${(err as NodeJS.ErrnoException).code ?? "error"}); relying on the stat poll`);
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch (err) {
      this.report("warn", "htpasswd_watch_failed", `${this.opts.path}: cannot watch (${(err as NodeJS.ErrnoException).code ?? "error"}); relying on the stat poll`);
    }
  }

  private report(level: FileReport["level"], code: string, message: string): void {
    try {
      this.opts.report?.({ level, code, message });
    } catch {
      /* a reporting failure must not break reloads */
    }
  }
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("base64");
}
