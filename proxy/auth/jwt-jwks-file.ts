/**
 * A JWKS in a local file: read at start (an error then stops the config
 * from loading), reloaded when it changes. fs.watch on the folder catches
 * editors and atomic renames at once; a stat poll catches what watch misses
 * (network file systems, a folder replaced). A file that fails to read or
 * parse leaves the last good key set in use.
 */
import { watch, type FSWatcher, openSync, closeSync, fstatSync, readSync } from "node:fs";
import { open, stat } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { JWT_LIMITS } from "./jwt-schema.js";
import { parseJwks, type KeySet, type KeySource } from "./jwt-keys.js";

interface FileStamp {
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
}

function describe(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code ? `cannot read the file (${code})` : err instanceof Error ? err.message : "cannot read the file";
}

function parseText(text: Buffer): KeySet {
  let doc: unknown;
  try {
    doc = JSON.parse(text.toString("utf8"));
  } catch {
    throw new Error("the file is not JSON");
  }
  const r = parseJwks(doc, { local: true });
  if (typeof r === "string") throw new Error(r);
  return r;
}

function tooLarge(): Error {
  return new Error(`the file is larger than ${JWT_LIMITS.jwksBytes} bytes`);
}

/** Reads at most jwksBytes (+1 to notice a larger file) without trusting the stat size. */
function readBoundedSync(path: string): { text: Buffer; stamp: FileStamp } {
  const fd = openSync(path, "r");
  try {
    const st = fstatSync(fd);
    if (st.size > JWT_LIMITS.jwksBytes) throw tooLarge();
    const buf = Buffer.alloc(JWT_LIMITS.jwksBytes + 1);
    let n = 0;
    for (let r = 1; r > 0 && n < buf.length; n += r) r = readSync(fd, buf, n, buf.length - n, null);
    if (n > JWT_LIMITS.jwksBytes) throw tooLarge();
    return { text: buf.subarray(0, n), stamp: { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs } };
  } finally {
    closeSync(fd);
  }
}

async function readBounded(path: string): Promise<{ text: Buffer; stamp: FileStamp }> {
  const fh = await open(path, "r");
  try {
    const st = await fh.stat();
    if (st.size > JWT_LIMITS.jwksBytes) throw tooLarge();
    const buf = Buffer.alloc(JWT_LIMITS.jwksBytes + 1);
    let n = 0;
    for (let r = 1; r > 0 && n < buf.length; n += r) r = (await fh.read(buf, n, buf.length - n, null)).bytesRead;
    if (n > JWT_LIMITS.jwksBytes) throw tooLarge();
    return { text: buf.subarray(0, n), stamp: { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs } };
  } finally {
    await fh.close();
  }
}

export class FileKeySource implements KeySource {
  private set: KeySet;
  private stamp: FileStamp | undefined;
  private watcher: FSWatcher | undefined;
  private poll: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private rerun = false;
  lastError: string | undefined;
  /** Reads after the first (status and tests). */
  reads = 0;

  /** Loads the file now; throws (with a reason, never key material) when it is unusable. */
  constructor(
    readonly path: string,
    private readonly onChange: () => void,
  ) {
    try {
      const { text, stamp } = readBoundedSync(path);
      this.stamp = stamp;
      this.set = parseText(text);
    } catch (err) {
      throw new Error(describe(err));
    }
  }

  /** Starts watching; call once. */
  start(): void {
    const name = basename(this.path);
    try {
      this.watcher = watch(dirname(this.path), { persistent: false }, (_event, file) => {
        if (file === null || file === name) void this.refresh();
      });
      // A folder that disappears ends the watch; the poll carries on.
      this.watcher.on("error", () => {
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch {
      this.watcher = undefined;
    }
    this.poll = setInterval(() => void this.checkForChange(), JWT_LIMITS.filePollMs);
    this.poll.unref();
  }

  current(): KeySet {
    return this.set;
  }

  refetch(): undefined {
    return undefined;
  }

  /** The stat poll: re-reads only when inode, size or mtime changed. */
  async checkForChange(): Promise<void> {
    try {
      const st = await stat(this.path);
      const s = this.stamp;
      if (s && s.ino === st.ino && s.size === st.size && s.mtimeMs === st.mtimeMs) return;
    } catch (err) {
      this.lastError = describe(err);
      return;
    }
    await this.refresh();
  }

  /** Re-reads the file; bursts of watch events collapse into at most one more read. */
  refresh(): Promise<void> {
    if (this.running) {
      this.rerun = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.rerun = false;
        await this.load();
      } while (this.rerun);
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async load(): Promise<void> {
    try {
      this.reads++;
      const { text, stamp } = await readBounded(this.path);
      // Recorded even if the text does not parse: the poll re-reads only when the file changes again.
      this.stamp = stamp;
      const next = parseText(text);
      this.lastError = undefined;
      if (next.fingerprint !== this.set.fingerprint) {
        this.set = next;
        this.onChange();
      }
    } catch (err) {
      // Half-written files land here too; the next event or poll picks up the finished one.
      this.lastError = describe(err);
    }
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
    if (this.poll) clearInterval(this.poll);
    this.poll = undefined;
  }
}
