/**
 * The SDS client sidecars use: connects to the agent's Unix socket, keeps a
 * subscription, validates every response before ACKing it (NACK otherwise),
 * keeps the last good secrets across disconnects and agent restarts, and
 * reconnects with capped exponential back-off.
 */
import { EventEmitter } from "node:events";
import WebSocket, { type RawData } from "ws";
import { DEFAULT_BACKOFF, backoffDelay, type Backoff } from "./backoff.js";
import { SdsError, isSdsError } from "./errors.js";
import {
  LIMITS,
  RESOURCE_NAMES,
  SECRET_TYPE_URL,
  parseDiscoveryResponse,
  resourcesToSecrets,
  sameNames,
  type DiscoveryRequest,
  type ResourceName,
  type WorkloadSecrets,
} from "./protocol.js";

export interface SdsClientOptions {
  socketPath: string;
  /** Default ["default", "ROOTCA"]. */
  resourceNames?: string[];
  appToken?: string;
  nodeId?: string;
  /** Throws to reject (NACK) a response; the message becomes error_detail.message. */
  validate?: (s: WorkloadSecrets) => void;
  backoff?: Backoff;
  clock?: () => Date;
  /** [0, 1), for the back-off jitter. */
  random?: () => number;
  /** Largest server frame accepted (default 8 MiB). */
  maxPayloadBytes?: number;
  handshakeTimeoutMs?: number;
}

export interface DisconnectInfo {
  code: number;
  reason: string;
  /** Consecutive failed attempts so far, this one included. */
  attempt: number;
  /** When the next attempt is made (not set after stop()). */
  retryInMs?: number;
}

export interface SdsClientEvents {
  update: [secrets: WorkloadSecrets, version: string];
  error: [err: Error];
  connected: [];
  disconnected: [info: DisconnectInfo];
}

export interface SdsClientStatus {
  connected: boolean;
  /** Failed connection attempts since the last good response. */
  failures: number;
  lastUpdateAt?: Date;
  lastError?: string;
}

function checkNames(names: readonly string[]): ResourceName[] {
  if (names.length === 0 || names.length > LIMITS.resourceNames) throw new SdsError("invalid_argument", "resourceNames must have 1-16 entries");
  const out: ResourceName[] = [];
  for (const n of names) {
    if (!(RESOURCE_NAMES as readonly string[]).includes(n)) throw new SdsError("unknown_resource", `unknown resource name ${JSON.stringify(n.slice(0, 64))}`);
    if (!out.includes(n as ResourceName)) out.push(n as ResourceName);
  }
  return out;
}

function message(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 1024);
}

export class SdsClient extends EventEmitter<SdsClientEvents> {
  private readonly opts: SdsClientOptions;
  private readonly backoff: Backoff;
  private readonly clock: () => Date;
  private readonly random: () => number;
  private names: ResourceName[];
  private ws: WebSocket | undefined;
  private good: { secrets: WorkloadSecrets; version: string; key: string } | undefined;
  /** Latest nonce received on the current connection; requests must echo it or be ignored as stale. */
  private lastNonce = "";
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private running = false;
  private lastUpdateAt: Date | undefined;
  private lastError: string | undefined;

  constructor(opts: SdsClientOptions) {
    super();
    this.opts = opts;
    this.names = checkNames(opts.resourceNames ?? ["default", "ROOTCA"]);
    this.backoff = opts.backoff ?? DEFAULT_BACKOFF;
    if (!(this.backoff.initialMs > 0 && this.backoff.maxMs >= this.backoff.initialMs)) {
      throw new SdsError("invalid_argument", "backoff needs 0 < initialMs <= maxMs");
    }
    this.clock = opts.clock ?? (() => new Date());
    this.random = opts.random ?? Math.random;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.connect();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    const closed = new Promise<void>((resolve) => ws.once("close", () => resolve()));
    if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
    else ws.close(1000, "client stopping");
    const timer = setTimeout(() => ws.terminate(), 1000);
    await closed;
    clearTimeout(timer);
  }

  /** The last good (ACKed) secrets. */
  current(): { secrets: WorkloadSecrets; version: string } | undefined {
    return this.good && { secrets: this.good.secrets, version: this.good.version };
  }

  status(): SdsClientStatus {
    const s: SdsClientStatus = { connected: this.ws?.readyState === WebSocket.OPEN, failures: this.failures };
    if (this.lastUpdateAt) s.lastUpdateAt = this.lastUpdateAt;
    if (this.lastError !== undefined) s.lastError = this.lastError;
    return s;
  }

  /** Changes the subscription; the server answers with exactly the new set. */
  subscribe(resourceNames: string[]): void {
    const names = checkNames(resourceNames);
    if (sameNames(names, this.names)) return;
    this.names = names;
    this.send({ version_info: this.good?.version ?? "", response_nonce: this.lastNonce });
  }

  private fail(err: Error): void {
    this.lastError = err.message;
    // An unhandled "error" event would throw; a sidecar that does not listen must not crash.
    if (this.listenerCount("error") > 0) this.emit("error", err);
  }

  private connect(): void {
    const headers: Record<string, string> = {};
    if (this.opts.appToken !== undefined) headers.Authorization = `Bearer ${this.opts.appToken}`;
    const ws = new WebSocket(`ws+unix://${this.opts.socketPath}:/`, {
      headers,
      handshakeTimeout: this.opts.handshakeTimeoutMs ?? 5000,
      maxPayload: this.opts.maxPayloadBytes ?? 8 * 1024 * 1024,
      perMessageDeflate: false,
      followRedirects: false,
    });
    this.ws = ws;
    this.lastNonce = "";
    ws.on("open", () => {
      this.send({ version_info: this.good?.version ?? "", response_nonce: "" });
      this.emit("connected");
    });
    ws.on("message", (data, isBinary) => this.onMessage(ws, data, isBinary));
    ws.on("error", (err) => {
      if (this.running) this.fail(err);
    });
    ws.on("close", (code, reason) => {
      if (this.ws === ws) this.ws = undefined;
      this.failures++;
      const info: DisconnectInfo = { code, reason: reason.toString("utf8"), attempt: this.failures };
      if (this.running) {
        info.retryInMs = backoffDelay(this.failures - 1, this.backoff, this.random);
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          if (this.running) this.connect();
        }, info.retryInMs);
      }
      this.emit("disconnected", info);
    });
  }

  private send(fields: Pick<DiscoveryRequest, "version_info" | "response_nonce" | "error_detail">): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    const req: DiscoveryRequest = { type_url: SECRET_TYPE_URL, resource_names: this.names, ...fields };
    if (this.opts.nodeId !== undefined) req.node = { id: this.opts.nodeId };
    ws.send(JSON.stringify(req));
  }

  private nack(nonce: string, reason: string): void {
    this.fail(new SdsError("invalid_message", `rejected SDS response: ${reason}`));
    this.send({ version_info: this.good?.version ?? "", response_nonce: nonce, error_detail: { code: 3, message: reason } });
  }

  private onMessage(ws: WebSocket, data: RawData, isBinary: boolean): void {
    if (ws !== this.ws) return;
    if (isBinary) {
      this.fail(new SdsError("invalid_message", "binary frame from the SDS server"));
      ws.close(1003, "binary frames are not supported");
      return;
    }
    const text = (Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)).toString("utf8");
    let response;
    try {
      response = parseDiscoveryResponse(text);
    } catch (err) {
      const nonce = nonceOf(text);
      if (nonce === undefined) {
        // Without a nonce there is nothing to NACK; start over on a new stream.
        this.fail(err instanceof Error ? err : new Error(String(err)));
        ws.close(isSdsError(err) && err.code === "invalid_json" ? 1007 : 1008, "malformed DiscoveryResponse");
        return;
      }
      this.lastNonce = nonce;
      this.nack(nonce, message(err));
      return;
    }
    this.lastNonce = response.nonce;
    const got = response.resources.map((r) => r.name);
    if (!sameNames(got, this.names)) {
      this.nack(response.nonce, "resources do not match the subscription");
      return;
    }
    const secrets = resourcesToSecrets(response.resources);
    try {
      this.opts.validate?.(secrets);
    } catch (err) {
      this.nack(response.nonce, message(err));
      return;
    }
    this.send({ version_info: response.version_info, response_nonce: response.nonce });
    this.failures = 0;
    const key = JSON.stringify(secrets);
    const changed = key !== this.good?.key;
    this.good = { secrets, version: response.version_info, key };
    if (changed) {
      this.lastUpdateAt = this.clock();
      this.emit("update", secrets, response.version_info);
    }
  }
}

/** The nonce of a response that failed full parsing, if it has a usable one. */
function nonceOf(text: string): string | undefined {
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== "object" || v === null) return undefined;
    const nonce = (v as Record<string, unknown>).nonce;
    return typeof nonce === "string" && nonce.length > 0 && nonce.length <= LIMITS.shortString ? nonce : undefined;
  } catch {
    return undefined;
  }
}
