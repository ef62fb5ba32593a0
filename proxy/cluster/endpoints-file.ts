/**
 * `endpoints_file:` — a cluster's endpoints kept in a file and reloaded
 * when it changes. Accepted forms: one HOST:PORT per line (`#` comments and
 * blank lines ignored), or a JSON/YAML list of strings. A file that turns
 * bad (unparsable, empty, too big, gone) is reported and the last good list
 * stays in use.
 */
import { readFileSync, statSync, watch, type FSWatcher } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { parse as parseYaml } from "yaml";
import { ProxyError } from "../errors.js";
import { MAX_ADDRESS_LENGTH, parseEndpointAddress } from "./endpoint.js";

export const MAX_ENDPOINTS = 10_000;
export const MAX_ENDPOINTS_FILE_BYTES = 1024 * 1024;

function bad(source: string, where: string, what: string): ProxyError {
  return new ProxyError("invalid_config", `${source}: ${where}${what}`);
}

/** Canonical addresses from one entry list; `where(i)` names the entry in errors. */
function checkEntries(source: string, entries: readonly { text: string; where: string }[]): string[] {
  if (entries.length === 0) throw bad(source, "", "lists no endpoints");
  if (entries.length > MAX_ENDPOINTS) throw bad(source, "", `lists more than ${MAX_ENDPOINTS} endpoints`);
  const seen = new Set<string>();
  const out: string[] = [];
  for (const e of entries) {
    const r = parseEndpointAddress(e.text);
    if (typeof r === "string") throw bad(source, `${e.where}: `, r);
    if (seen.has(r.address)) throw bad(source, `${e.where}: `, `duplicate endpoint ${r.address}`);
    seen.add(r.address);
    out.push(r.address);
  }
  return out;
}

/** Parses the text of an endpoints file into canonical "host:port" strings; throws ProxyError("invalid_config"). */
export function parseEndpointsText(text: string, source = "endpoints file"): string[] {
  if (Buffer.byteLength(text, "utf8") > MAX_ENDPOINTS_FILE_BYTES) throw bad(source, "", `larger than ${MAX_ENDPOINTS_FILE_BYTES} bytes`);
  const body = text.replace(/^\uFEFF/, "");
  const lines = body.split(/\r?\n/);
  const first = lines.map((l) => l.trim()).find((l) => l !== "" && !l.startsWith("#")) ?? "";
  // "[::1]:80" opens a line file too; a list opens with "[" not followed by an address and port.
  const isList = first.startsWith("-") || (first.startsWith("[") && !/^\[[^\]"',\s]*\]:/.test(first));
  if (isList) {
    let doc: unknown;
    try {
      doc = parseYaml(body, { maxAliasCount: 0, uniqueKeys: true });
    } catch (err) {
      throw bad(source, "", `not a valid JSON/YAML list: ${(err as Error).message.split("\n")[0]}`);
    }
    if (!Array.isArray(doc)) throw bad(source, "", "expected a list of HOST:PORT strings");
    if (doc.length > MAX_ENDPOINTS) throw bad(source, "", `lists more than ${MAX_ENDPOINTS} endpoints`);
    return checkEntries(
      source,
      doc.map((v: unknown, i) => {
        if (typeof v !== "string") throw bad(source, `[${i}]: `, `expected a HOST:PORT string, got ${v === null ? "null" : typeof v}`);
        return { text: v, where: `[${i}]` };
      }),
    );
  }
  const entries: { text: string; where: string }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/(^|\s)#.*$/, "").trim();
    if (line === "") continue;
    if (line.length > MAX_ADDRESS_LENGTH) throw bad(source, `line ${i + 1}: `, `longer than ${MAX_ADDRESS_LENGTH} characters`);
    if (/\s/.test(line)) throw bad(source, `line ${i + 1}: `, "expected one HOST:PORT per line");
    entries.push({ text: line, where: `line ${i + 1}` });
    if (entries.length > MAX_ENDPOINTS) break;
  }
  return checkEntries(source, entries);
}

function readError(path: string, err: unknown): ProxyError {
  const code = (err as NodeJS.ErrnoException).code ?? "error";
  return new ProxyError("invalid_config", `${path}: cannot read endpoints file (${code})`, { cause: err });
}

/** Reads and parses an endpoints file now (at config load). */
export function loadEndpointsFile(path: string): string[] {
  let text: string;
  try {
    if (statSync(path).size > MAX_ENDPOINTS_FILE_BYTES) throw bad(path, "", `larger than ${MAX_ENDPOINTS_FILE_BYTES} bytes`);
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw err instanceof ProxyError ? err : readError(path, err);
  }
  return parseEndpointsText(text, path);
}

export interface WatchOptions {
  /** The list in use now; onChange fires only for a different one. Without it, the first good read is reported. */
  readonly initial?: readonly string[];
  /** Fallback polling by stat, for filesystems where fs.watch misses changes (default 1000 ms). */
  readonly pollIntervalMs?: number;
  /** Events closer than this are handled once (default 25 ms). */
  readonly debounceMs?: number;
  /** Use fs.watch as well as polling (default true; false for filesystems where it misbehaves, e.g. some network mounts). */
  readonly fsWatch?: boolean;
}

export interface EndpointsWatcher {
  /** The last good list (undefined until one was read or given). */
  current(): readonly string[] | undefined;
  close(): void;
}

/**
 * Watches an endpoints file (fs.watch on its folder, so atomic renames are
 * seen, plus periodic stat polling). onChange gets each new good list;
 * onError each new problem, once until the problem changes.
 */
export function watchEndpointsFile(
  path: string,
  onChange: (endpoints: string[]) => void,
  onError: (err: ProxyError) => void,
  opts: WatchOptions = {},
): EndpointsWatcher {
  let last: string[] | undefined = opts.initial ? [...opts.initial] : undefined;
  let lastKey = last?.join("\n");
  let lastError: string | undefined;
  let lastSig = "";
  let closed = false;
  let running = false;
  let again = false;
  let againForced = false;
  let debounce: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;

  const report = (err: ProxyError) => {
    if (err.message === lastError) return;
    lastError = err.message;
    onError(err);
  };

  const checkOnce = async (force: boolean) => {
    let sig: string;
    try {
      const st = await stat(path);
      if (st.size > MAX_ENDPOINTS_FILE_BYTES) {
        lastSig = "";
        report(bad(path, "", `larger than ${MAX_ENDPOINTS_FILE_BYTES} bytes`));
        return;
      }
      sig = `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
    } catch (err) {
      lastSig = "";
      report(readError(path, err));
      return;
    }
    if (!force && sig === lastSig) return;
    lastSig = sig;
    let list: string[];
    try {
      list = parseEndpointsText(await readFile(path, "utf8"), path);
    } catch (err) {
      report(err instanceof ProxyError ? err : readError(path, err));
      return;
    }
    lastError = undefined;
    const key = list.join("\n");
    if (key === lastKey || closed) return;
    last = list;
    lastKey = key;
    onChange(list);
  };

  const check = async (force: boolean) => {
    if (closed) return;
    if (running) {
      again = true;
      againForced ||= force;
      return;
    }
    running = true;
    try {
      let f = force;
      for (;;) {
        await checkOnce(f);
        if (!again || closed) break;
        f = againForced;
        again = againForced = false;
      }
    } catch (err) {
      // onChange threw: the caller's bug, reported rather than left unhandled.
      onError(err instanceof ProxyError ? err : new ProxyError("invalid_config", `${path}: ${(err as Error).message}`, { cause: err }));
    } finally {
      running = false;
    }
  };

  const schedule = () => {
    if (closed || debounce) return;
    debounce = setTimeout(() => {
      debounce = undefined;
      void check(true);
    }, opts.debounceMs ?? 25);
    debounce.unref();
  };

  const name = basename(path);
  if (opts.fsWatch !== false) {
    try {
      watcher = watch(dirname(path), { persistent: false }, (_event, file) => {
        if (file === null || file === name) schedule();
        // Other names (e.g. a symlinked ..data swap) are caught by the stat check.
        else void check(false);
      });
      watcher.on("error", () => {
        watcher?.close();
        watcher = undefined;
      });
    } catch {
      watcher = undefined; // no fs.watch here: polling alone
    }
  }
  const poll = setInterval(() => void check(false), opts.pollIntervalMs ?? 1000);
  poll.unref();
  void check(true);

  return {
    current: () => last,
    close() {
      closed = true;
      clearInterval(poll);
      if (debounce) clearTimeout(debounce);
      watcher?.close();
    },
  };
}
