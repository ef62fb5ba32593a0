/** Small HTTP helpers for the CA service: bounded JSON bodies and typed errors turned into statuses. */
import type { IncomingMessage, ServerResponse } from "node:http";
import { PkiError, type PkiErrorCode } from "../errors.js";

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "HttpError";
  }
}

const STATUS: Record<PkiErrorCode, number> = {
  invalid_spiffe_id: 400,
  invalid_svid: 401,
  invalid_csr: 400,
  invalid_key: 400,
  invalid_argument: 400,
  bad_passphrase: 500,
  not_found: 404,
  conflict: 409,
  forbidden: 403,
  unauthenticated: 401,
  token_invalid: 401,
  rate_limited: 429,
  ca_unavailable: 503,
  store_error: 500,
};

/** The HTTP form of any failure; unknown errors become an opaque 500. */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof PkiError) {
    const headers: Record<string, string> = {};
    if (err.code === "rate_limited" && err.retryAfter !== undefined) headers["retry-after"] = String(err.retryAfter);
    const status = STATUS[err.code] ?? 500;
    // internal details of server-side failures stay in the server log
    const message = status >= 500 && err.code !== "ca_unavailable" ? "internal error" : err.message;
    return new HttpError(status, err.code, message, headers);
  }
  return new HttpError(500, "internal", "internal error");
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(data), "cache-control": "no-store", ...headers });
  res.end(data);
}

export function sendText(res: ServerResponse, status: number, body: string, contentType: string): void {
  res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(body), "cache-control": "no-store" });
  res.end(body);
}

export function sendError(res: ServerResponse, err: HttpError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, err.status, { error: { code: err.code, message: err.message } }, err.headers);
}

/** Reads a JSON object body of at most maxBytes; anything else is a 4xx. */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<Record<string, unknown>> {
  const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/json") throw new HttpError(415, "unsupported_media_type", "content-type must be application/json");
  const declared = Number(req.headers["content-length"] ?? "0");
  if (declared > maxBytes) throw new HttpError(413, "body_too_large", `request body larger than ${maxBytes} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new HttpError(413, "body_too_large", `request body larger than ${maxBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new HttpError(400, "bad_json", "request body is not valid JSON");
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new HttpError(400, "bad_json", "request body must be a JSON object");
  return parsed as Record<string, unknown>;
}
