/** A tiny HTTPS client for tests (node:https), with optional client certificate. */
import { request } from "node:https";

export interface HttpsResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: () => unknown;
}

export interface HttpsOptions {
  method?: string;
  body?: string | Buffer;
  headers?: Record<string, string>;
  ca?: string;
  cert?: string;
  key?: string;
  /** Default: no host-name check (the CA serves a SPIFFE identity); tests that check it pass a servername. */
  servername?: string;
}

export function httpsRequest(url: string, opts: HttpsOptions = {}): Promise<HttpsResult> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: opts.method ?? "GET",
        headers: { ...(opts.body !== undefined ? { "content-type": "application/json" } : {}), ...opts.headers },
        ca: opts.ca,
        cert: opts.cert,
        key: opts.key,
        servername: opts.servername,
        checkServerIdentity: opts.servername ? undefined : () => undefined,
        agent: false,
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const body = Buffer.concat(chunks).toString("utf8");
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) as unknown });
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("request timed out")));
    req.on("error", reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}
