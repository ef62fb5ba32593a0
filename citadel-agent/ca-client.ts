/**
 * The agent's client of the CA API (DESIGN.md §4). TLS 1.3, the CA checked
 * against the trust bundle and by its SPIFFE ID (spiffe://<td>/mesh/ca), not
 * by host name. Calls that need a node identity present the node SVID.
 * Every wait and every body is bounded.
 */
import { Agent, request } from "node:https";
import type { PeerCertificate } from "node:tls";
import { AgentError } from "./errors.js";

export interface IssuedResponse {
  spiffe_id: string;
  serial: string;
  svid_chain: string;
  bundle: string;
  bundle_sequence: number;
  not_before: string;
  expires_at: string;
}

export interface EntryResponse {
  id: string;
  spiffe_id: string;
  workload: string;
  ttl_seconds: number | null;
  dns_names: string[];
}

export interface BundleResponse {
  trust_domain: string;
  sequence: number;
  pem: string;
}

export interface CaClientOptions {
  url: string;
  trustDomain: string;
  /** PEM roots the CA's serving certificate must chain to. */
  bundlePem: string;
  /** The node SVID (chain PEM + key PEM), once attested. */
  identity?: { certPem: string; keyPem: string };
  timeoutMs?: number;
  maxResponseBytes?: number;
}

export class CaClient {
  private readonly agent: Agent;
  private readonly base: URL;

  constructor(private readonly opts: CaClientOptions) {
    this.base = new URL(opts.url);
    if (this.base.protocol !== "https:") throw new AgentError("config_invalid", `CA URL must be https, got ${opts.url}`);
    const expected = `spiffe://${opts.trustDomain}/mesh/ca`;
    this.agent = new Agent({
      keepAlive: true,
      maxSockets: 8,
      minVersion: "TLSv1.3",
      ca: opts.bundlePem,
      cert: opts.identity?.certPem,
      key: opts.identity?.keyPem,
      checkServerIdentity: (_host: string, cert: PeerCertificate) => {
        const san = cert.subjectaltname ?? "";
        const uris = san.split(", ").filter((s) => s.startsWith("URI:"));
        if (uris.length !== 1 || uris[0] !== `URI:${expected}`) {
          return new Error(`CA presented ${uris.join(",") || "no URI SAN"}, expected ${expected}`);
        }
        return undefined;
      },
    });
  }

  close(): void {
    this.agent.destroy();
  }

  attest(token: string, csrPem: string): Promise<IssuedResponse> {
    return this.call("POST", "/v1/attest", { token, csr: csrPem }) as Promise<IssuedResponse>;
  }

  sign(spiffeId: string, csrPem: string, ttlSeconds?: number): Promise<IssuedResponse> {
    const body: Record<string, unknown> = { spiffe_id: spiffeId, csr: csrPem };
    if (ttlSeconds !== undefined) body.ttl_seconds = ttlSeconds;
    return this.call("POST", "/v1/sign", body) as Promise<IssuedResponse>;
  }

  async entries(): Promise<EntryResponse[]> {
    const r = (await this.call("GET", "/v1/entries")) as { entries?: unknown };
    if (!Array.isArray(r.entries)) throw new AgentError("ca_bad_response", "entries response has no entries list");
    return r.entries as EntryResponse[];
  }

  bundle(): Promise<BundleResponse> {
    return this.call("GET", "/v1/bundle") as Promise<BundleResponse>;
  }

  async crl(): Promise<string> {
    return (await this.call("GET", "/v1/crl", undefined, true)) as string;
  }

  private call(method: string, path: string, body?: unknown, text = false): Promise<unknown> {
    const timeout = this.opts.timeoutMs ?? 10_000;
    const max = this.opts.maxResponseBytes ?? 4 * 1024 * 1024;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        new URL(path, this.base),
        {
          method,
          agent: this.agent,
          headers: payload ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } : {},
          timeout,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (c: Buffer) => {
            size += c.length;
            if (size > max) {
              req.destroy(new AgentError("ca_bad_response", `CA response larger than ${max} bytes`));
              return;
            }
            chunks.push(c);
          });
          res.on("error", (err) => reject(new AgentError("ca_unreachable", `CA response failed: ${err.message}`, { cause: err })));
          res.on("end", () => {
            const raw = Buffer.concat(chunks).toString("utf8");
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) {
              if (text) return resolve(raw);
              try {
                return resolve(JSON.parse(raw) as unknown);
              } catch {
                return reject(new AgentError("ca_bad_response", `CA sent invalid JSON for ${path}`));
              }
            }
            let caCode: string | undefined;
            let message = `CA answered ${status} for ${method} ${path}`;
            try {
              const e = (JSON.parse(raw) as { error?: { code?: string; message?: string } }).error;
              caCode = e?.code;
              if (e?.message) message += `: ${e.message}`;
            } catch {
              /* not JSON: keep the status line */
            }
            const retryAfter = Number(res.headers["retry-after"]);
            const code = status >= 500 || status === 429 ? "ca_unreachable" : "ca_refused";
            reject(new AgentError(code, message, { status, caCode, retryAfter: Number.isFinite(retryAfter) ? retryAfter : undefined }));
          });
        },
      );
      req.on("timeout", () => req.destroy(new AgentError("ca_unreachable", `CA did not answer ${method} ${path} within ${timeout} ms`)));
      req.on("error", (err) => reject(err instanceof AgentError ? err : new AgentError("ca_unreachable", `cannot reach the CA: ${err.message}`, { cause: err })));
      if (payload) req.write(payload);
      req.end();
    });
  }
}
