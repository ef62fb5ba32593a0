/**
 * JSON access log, one line per request, written through a buffered stream.
 * Only request metadata is logged: never header values that may carry
 * credentials, never bodies.
 */
import { createWriteStream, type WriteStream } from "node:fs";
import type { Writable } from "node:stream";

export interface AccessEntry {
  ts: string;
  listener: string;
  route: string;
  method: string;
  path: string;
  status: number;
  duration_ms: number;
  bytes_sent: number;
  request_id: string;
  peer?: string;
  user?: string;
  upstream?: string;
  cluster?: string;
  attempts?: number;
  denied_by?: string;
  code?: string;
  remote: string;
}

export interface AccessLog {
  /** False for "off": callers skip building entries at all. */
  readonly enabled: boolean;
  write(e: AccessEntry): void;
  close(): Promise<void>;
}

const MAX_PATH = 1024;

/** Lines are batched and flushed every 50 ms or at 64 KiB, so a busy proxy makes a few writes a second, not one per request. */
export function openAccessLog(target: "stdout" | "off" | string, flushMs = 50): AccessLog {
  if (target === "off") return { enabled: false, write: () => undefined, close: async () => undefined };
  const stream: Writable = target === "stdout" ? process.stdout : createWriteStream(target, { flags: "a", mode: 0o600 });
  stream.on("error", () => undefined); // a full disk must not take the proxy down; lines are lost, requests are not
  let dropped = 0;
  let batch = "";
  let timer: NodeJS.Timeout | undefined;
  const flush = (): void => {
    timer = undefined;
    if (batch === "") return;
    // never queue without bound behind a slow disk or pipe: count and drop instead
    if (stream.writableLength > 4 * 1024 * 1024) {
      dropped += batch.split("\n").length - 1;
      batch = "";
      return;
    }
    if (dropped > 0) {
      batch = `{"ts":"${new Date().toISOString()}","dropped_entries":${dropped}}\n${batch}`;
      dropped = 0;
    }
    stream.write(batch);
    batch = "";
  };
  return {
    enabled: true,
    write(e) {
      if (e.path.length > MAX_PATH) e.path = `${e.path.slice(0, MAX_PATH)}…`;
      batch += `${JSON.stringify(e)}\n`;
      if (batch.length >= 64 * 1024) flush();
      else if (!timer) {
        timer = setTimeout(flush, flushMs);
        timer.unref();
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (timer) clearTimeout(timer);
        flush();
        if (stream === process.stdout) return resolve();
        (stream as WriteStream).end(() => resolve());
      }),
  };
}
