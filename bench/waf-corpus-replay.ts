/**
 * Replays raw HTTP requests byte for byte, each on its own TCP connection
 * (node:net; some corpus requests are malformed on purpose, so no HTTP
 * client library), and reads the status code of the first final response.
 * Interim 1xx responses (100 Continue) are skipped; the start of the body
 * gives the proxy's error code, if any. A connection that ends
 * or is reset before a status line, and a request with no status line
 * within the timeout, have no status: the caller decides what they count as.
 */
import { connect } from "node:net";
import { performance } from "node:perf_hooks";

export type ReplayOutcome =
  | {
      readonly kind: "status";
      readonly status: number;
      /** The proxy's error code from a JSON error body ("waf_blocked", "path_encoded_slash"), "empty" for a response without a body, else undefined. */
      readonly code?: string;
    }
  | { readonly kind: "closed" }
  | { readonly kind: "reset"; readonly code: string }
  | { readonly kind: "timeout" };

export interface ReplayOptions {
  host?: string;
  port: number;
  concurrency: number;
  timeoutMs: number;
}

export interface ReplayResult {
  outcomes: ReplayOutcome[];
  seconds: number;
}

/** Most response bytes kept (interim responses included). */
const MAX_HEAD_BYTES = 64 * 1024;
const STATUS_LINE = /^HTTP\/\d(?:\.\d)? (\d{3})/;

/**
 * The first final status code in `buf` and where that response starts,
 * "more" when more bytes are needed, or "garbage" when the bytes are not an
 * HTTP response.
 */
export function finalStatus(buf: Buffer): { status: number; start: number } | "more" | "garbage" {
  let pos = 0;
  for (;;) {
    const lineEnd = buf.indexOf("\n", pos);
    if (lineEnd < 0) return buf.length - pos > 1024 ? "garbage" : "more";
    const m = STATUS_LINE.exec(buf.toString("latin1", pos, lineEnd));
    if (!m) return "garbage";
    const status = Number(m[1]);
    if (status >= 200 || status === 101) return { status, start: pos };
    // an interim response: skip its header section and read the next one
    const headEnd = buf.indexOf("\r\n\r\n", pos);
    if (headEnd < 0) return "more";
    pos = headEnd + 4;
  }
}

/** Body bytes read to find the error code in. */
const BODY_PEEK = 512;

/** The error code of a final response starting at `start`, once enough of it is there; undefined while more is needed. */
export function responseCode(buf: Buffer, start: number, ended: boolean): { code?: string } | undefined {
  const headEnd = buf.indexOf("\r\n\r\n", start);
  if (headEnd < 0) return ended ? {} : undefined;
  const head = buf.toString("latin1", start, headEnd);
  const body = buf.subarray(headEnd + 4, headEnd + 4 + BODY_PEEK).toString("latin1");
  const declared = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  const want = declared ? Math.min(Number(declared[1]), BODY_PEEK) : BODY_PEEK;
  if (body.length < want && !ended) return undefined;
  if (body.length === 0) return { code: "empty" };
  const code = /"code"\s*:\s*"([\w.-]{1,64})"/.exec(body)?.[1];
  return code ? { code } : {};
}

/** After the status line, how long to wait for the rest of the response head and the start of its body. */
const BODY_GRACE_MS = 300;

/** Sends one request on a new connection; resolves with what came back. */
export function replayOne(raw: Buffer, host: string, port: number, timeoutMs: number): Promise<ReplayOutcome> {
  return new Promise((resolve) => {
    let done = false;
    let got = Buffer.alloc(0);
    let found: { status: number; start: number } | undefined;
    let grace: NodeJS.Timeout | undefined;
    const sock = connect({ host, port });
    const finish = (o: ReplayOutcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(grace);
      sock.destroy();
      resolve(o);
    };
    const withCode = (ended: boolean): void => {
      const c = responseCode(got, found!.start, ended);
      if (c !== undefined) finish({ kind: "status", status: found!.status, ...c });
    };
    const timer = setTimeout(() => (found ? withCode(true) : finish({ kind: "timeout" })), timeoutMs);
    sock.setNoDelay(true);
    sock.once("connect", () => sock.write(raw));
    sock.on("data", (chunk: Buffer) => {
      if (got.length < MAX_HEAD_BYTES) got = Buffer.concat([got, chunk]);
      if (!found) {
        const s = finalStatus(got);
        if (s === "garbage" || (s === "more" && got.length >= MAX_HEAD_BYTES)) return finish({ kind: "status", status: 0 });
        if (s === "more") return;
        found = s;
        grace = setTimeout(() => withCode(true), BODY_GRACE_MS);
      }
      withCode(got.length >= MAX_HEAD_BYTES);
    });
    const ended = (): void => (found ? withCode(true) : finish({ kind: "closed" }));
    sock.on("end", ended);
    sock.on("close", ended);
    sock.on("error", (err: NodeJS.ErrnoException) => (found ? withCode(true) : finish({ kind: "reset", code: err.code ?? "error" })));
  });
}

/** Replays every request with at most `concurrency` in flight; outcomes[i] belongs to raws[i]. */
export async function replayAll(raws: readonly Buffer[], o: ReplayOptions): Promise<ReplayResult> {
  const host = o.host ?? "127.0.0.1";
  const outcomes: ReplayOutcome[] = new Array<ReplayOutcome>(raws.length);
  let next = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (next < raws.length) {
      const i = next++;
      outcomes[i] = await replayOne(raws[i]!, host, o.port, o.timeoutMs);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency, raws.length)) }, worker));
  return { outcomes, seconds: (performance.now() - t0) / 1000 };
}

/** "403", "closed", "reset (ECONNRESET)", "timeout": how an outcome is counted. */
export function outcomeLabel(o: ReplayOutcome): string {
  switch (o.kind) {
    case "status":
      return o.status === 0 ? "not HTTP" : String(o.status);
    case "closed":
      return "closed, no response";
    case "reset":
      return `reset (${o.code})`;
    case "timeout":
      return "timeout";
  }
}

/** Blocked, by the corpus README's rule (any status but 200/404), with no response counting as blocked. */
export function outcomeBlocked(o: ReplayOutcome, isBlockedStatus: (s: number) => boolean): boolean {
  return o.kind === "status" ? isBlockedStatus(o.status) : true;
}

/** "400 path_encoded_slash", "400 (empty body)": an outcome with the proxy's error code, for listing examples. */
export function outcomeDetail(o: ReplayOutcome): string {
  if (o.kind !== "status" || o.code === undefined) return outcomeLabel(o);
  return o.code === "empty" ? `${o.status} (empty body)` : `${o.status} ${o.code}`;
}
