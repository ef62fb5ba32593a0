/**
 * Upgraded connections (WebSocket): after the filters pass, the request head
 * is written to the upstream and bytes are piped both ways, the upstream's
 * 101 (or refusal) included, so the proxy never parses frames. Either side
 * closing or failing closes the other.
 */
import type { OutgoingHttpHeaders } from "node:http";
import type { Duplex } from "node:stream";
import { STATUS_CODES } from "node:http";

const CRLF = "\r\n";

function headerLines(headers: OutgoingHttpHeaders): string {
  let out = "";
  for (const name in headers) {
    const v = headers[name];
    if (v === undefined) continue;
    const values = Array.isArray(v) ? v : [String(v)];
    for (const one of values) {
      // header values came from Node's parser, which refuses CR/LF; checked again because this is written raw
      if (/[\r\n]/.test(one) || /[\r\n:]/.test(name)) continue;
      out += `${name}: ${one}${CRLF}`;
    }
  }
  return out;
}

/** Writes an HTTP/1.1 request head (and any bytes already read after it) to the upstream. */
export function writeRequestHead(upstream: Duplex, method: string, url: string, headers: OutgoingHttpHeaders, head: Buffer): void {
  upstream.write(`${method} ${url} HTTP/1.1${CRLF}${headerLines(headers)}${CRLF}`);
  if (head.length > 0) upstream.write(head);
}

/** Answers an upgrade request without upgrading, then closes. */
export function refuseUpgrade(client: Duplex, status: number, body: string, headers: Record<string, string> = {}): void {
  if (client.destroyed) return;
  const all = { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)), connection: "close", ...headers };
  client.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}${CRLF}${headerLines(all)}${CRLF}${body}`);
  setTimeout(() => client.destroy(), 1000).unref();
}

/** Pipes both ways until either side ends; calls onClose once. */
export function tunnel(client: Duplex, upstream: Duplex, onClose: () => void): void {
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    client.destroy();
    upstream.destroy();
    onClose();
  };
  client.on("error", close);
  upstream.on("error", close);
  client.on("close", close);
  upstream.on("close", close);
  upstream.pipe(client);
  client.pipe(upstream);
}
