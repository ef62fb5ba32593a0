/**
 * One request on its way through a listener, handed from the handler to the
 * forwarder. `finish` is called exactly once, when the response has been
 * written (or the client went away), and does the metrics and access log.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { Readable } from "node:stream";
import type { CompiledRoute } from "../routing/table.js";
import type { FilterRequest } from "../filters/types.js";

export interface FinishInfo {
  cluster?: string;
  upstream?: string;
  attempts?: number;
  deniedBy?: string;
  code?: string;
  /** For a request answered before its FilterRequest was made (a refusal): its id. */
  requestId?: string;
}

export interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly filterRequest: FilterRequest;
  readonly route: CompiledRoute;
  readonly method: string;
  /** Normalised path (route rewrite applied) with the query string. */
  readonly url: string;
  readonly headers: OutgoingHttpHeaders;
  /** Buffered body (when a filter needed it), the live request stream, or nothing. */
  readonly body: Buffer | Readable | undefined;
  /** ms since the epoch when the request arrived (for the total timeout). */
  readonly startedAt: number;
  finish(status: number, info?: FinishInfo): void;
}

/** A JSON error reply written by the proxy itself. */
export function sendLocalReply(res: ServerResponse, status: number, code: string, message: string, requestId: string, headers: Readonly<Record<string, string>> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error: { code, message } });
  res.writeHead(status, {
    ...headers,
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    "x-request-id": requestId,
  });
  res.end(body);
}

/** Reads the whole body up to maxBytes; resolves undefined when it is larger (the caller answers 413). */
export function readBody(req: IncomingMessage, maxBytes: number, timeoutMs: number): Promise<Buffer | undefined> {
  const declared = Number(req.headers["content-length"] ?? "0");
  if (declared > maxBytes) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => fail(new Error(`request body not received within ${timeoutMs} ms`)), timeoutMs);
    const done = (v: Buffer | undefined): void => {
      clearTimeout(timer);
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", fail);
      resolve(v);
    };
    function fail(err: Error): void {
      clearTimeout(timer);
      req.off("data", onData);
      req.off("end", onEnd);
      reject(err);
    }
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size > maxBytes) {
        req.pause();
        done(undefined);
        return;
      }
      chunks.push(c);
    };
    const onEnd = (): void => done(Buffer.concat(chunks, size));
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("error", fail);
  });
}

export type { IncomingMessage, ServerResponse };
