/** Helpers for the SDS tests: fake secrets, a server in a temp dir, and a raw `ws` client that sees the wire format. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { SdsServer, type SdsServerOptions } from "../../sds-server/server.js";
import type { SdsEvent } from "../../sds-server/events.js";
import { SECRET_TYPE_URL, type DiscoveryResponse, type WorkloadSecrets } from "../../sds-server/protocol.js";

export { SECRET_TYPE_URL };

/** Distinct, PEM-shaped secrets; the server does not parse PEM, so fakes are enough. */
export function secrets(tag: string, opts: { crl?: boolean; padding?: number } = {}): WorkloadSecrets {
  const pad = "A".repeat(opts.padding ?? 0);
  const s: WorkloadSecrets = {
    default: {
      certificateChainPem: `-----BEGIN CERTIFICATE-----\nleaf-${tag}${pad}\n-----END CERTIFICATE-----\n`,
      privateKeyPem: `-----BEGIN PRIVATE KEY-----\nkey-${tag}\n-----END PRIVATE KEY-----\n`,
    },
    ROOTCA: { trustedCaPem: `-----BEGIN CERTIFICATE-----\nroot-${tag}\n-----END CERTIFICATE-----\n` },
  };
  if (opts.crl && s.ROOTCA) s.ROOTCA.crlPem = `-----BEGIN X509 CRL-----\ncrl-${tag}\n-----END X509 CRL-----\n`;
  return s;
}

export interface Harness {
  dir: string;
  server: SdsServer;
  events: SdsEvent[];
  path(name: string): string;
  cleanup(): Promise<void>;
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "sds-"));
}

/** A temp dir removed when the test ends. */
export function scratch(t: { teardown(fn: () => void): void }): string {
  const dir = tempDir();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function harness(opts: Partial<SdsServerOptions> = {}, dir = tempDir()): Harness {
  const events: SdsEvent[] = [];
  const server = new SdsServer({ closeGraceMs: 200, ...opts, dir, onEvent: (e) => events.push(e) });
  return {
    dir,
    server,
    events,
    path: (name) => join(dir, `${name}.sock`),
    cleanup: async () => {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function waitFor(cond: () => boolean, timeoutMs = 3000, what = "condition"): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

export interface Closed {
  code: number;
  reason: string;
}

/** A bare `ws` client: sends whatever a test wants and queues what the server sends. */
export class RawClient {
  private readonly queue: DiscoveryResponse[] = [];
  private readonly waiters: ((r: DiscoveryResponse) => void)[] = [];
  readonly closed: Promise<Closed>;
  closeInfo: Closed | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data) => {
      const r = JSON.parse(String(data)) as DiscoveryResponse;
      const w = this.waiters.shift();
      if (w) w(r);
      else this.queue.push(r);
    });
    ws.on("error", () => undefined);
    this.closed = new Promise((resolve) =>
      ws.on("close", (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        resolve(this.closeInfo);
      }),
    );
  }

  /** Opens a connection; resolves to the HTTP status instead when the upgrade is refused. */
  static open(socketPath: string, opts: { headers?: Record<string, string>; autoPong?: boolean } = {}): Promise<RawClient | number> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws+unix://${socketPath}:/`, { headers: opts.headers, autoPong: opts.autoPong ?? true });
      ws.once("open", () => resolve(new RawClient(ws)));
      ws.once("unexpected-response", (req, res) => {
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      ws.once("error", reject);
    });
  }

  static async connect(socketPath: string, opts: { headers?: Record<string, string>; autoPong?: boolean } = {}): Promise<RawClient> {
    const c = await RawClient.open(socketPath, opts);
    if (typeof c === "number") throw new Error(`upgrade refused with ${c}`);
    return c;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** A DiscoveryRequest with defaults for the fields a test does not care about. */
  request(fields: { resource_names?: string[]; version_info?: string; response_nonce?: string; error_detail?: { code?: number; message: string } } = {}): void {
    this.send({ type_url: SECRET_TYPE_URL, resource_names: ["default", "ROOTCA"], version_info: "", response_nonce: "", node: { id: "test" }, ...fields });
  }

  ack(r: DiscoveryResponse, resource_names = ["default", "ROOTCA"]): void {
    this.request({ resource_names, version_info: r.version_info, response_nonce: r.nonce });
  }

  next(timeoutMs = 2000): Promise<DiscoveryResponse> {
    const r = this.queue.shift();
    if (r) return Promise.resolve(r);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(done), 1);
        reject(new Error("no response within " + timeoutMs + " ms"));
      }, timeoutMs);
      const done = (x: DiscoveryResponse): void => {
        clearTimeout(timer);
        resolve(x);
      };
      this.waiters.push(done);
    });
  }

  /** True when nothing arrived during `ms`. */
  async quiet(ms = 150): Promise<boolean> {
    await sleep(ms);
    return this.queue.length === 0;
  }

  close(): void {
    this.ws.terminate();
  }
}
