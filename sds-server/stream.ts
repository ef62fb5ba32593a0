/**
 * One client's xDS stream on a workload socket: its subscription, the nonce
 * and version last sent, ACK/NACK bookkeeping and the bounds that protect the
 * server from that client. Each client on a socket has its own stream.
 */
import { randomBytes } from "node:crypto";
import type { WebSocket, RawData } from "ws";
import { CloseCode, SdsError, closeCodeFor, isSdsError } from "./errors.js";
import {
  SECRET_TYPE_URL,
  buildResources,
  parseDiscoveryRequest,
  sameNames,
  type DiscoveryRequest,
  type DiscoveryResponse,
  type ResourceName,
  type WorkloadSecrets,
} from "./protocol.js";
import type { SdsEvent } from "./events.js";

/** What a stream needs from the workload it belongs to. */
export interface StreamHost {
  readonly workload: string;
  secrets(): WorkloadSecrets;
  version(): string;
  emit(event: SdsEvent): void;
}

export interface StreamOptions {
  firstRequestTimeoutMs: number;
  maxBufferedBytes: number;
  /** After sending a close frame, how long the peer has to answer before the socket is cut. */
  closeTimeoutMs: number;
  clock: () => Date;
}

/** Close reasons are limited to 123 bytes by RFC 6455. */
function closeReason(text: string): string {
  let out = text;
  while (Buffer.byteLength(out) > 123) out = out.slice(0, -1);
  return out;
}

/** A NACK message is peer-controlled: keep it short and free of control characters before it reaches a log. */
function sanitize(text: string, max = 1024): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]/g, " ").slice(0, max);
}

export class SdsStream {
  private names: ResourceName[] | undefined;
  private lastNonce = "";
  private lastSentVersion = "";
  private lastSentKey: string | undefined;
  private closing = false;
  private firstRequestTimer: NodeJS.Timeout | undefined;
  /** ms timestamp of the last pong or frame, for the heartbeat. */
  private lastSeen: number;
  /** Heard from the peer since the last ping. */
  private answered = true;
  private missedPings = 0;

  constructor(
    private readonly ws: WebSocket,
    private readonly host: StreamHost,
    private readonly opts: StreamOptions,
  ) {
    this.lastSeen = opts.clock().getTime();
    this.firstRequestTimer = setTimeout(() => {
      this.fail("no DiscoveryRequest within " + opts.firstRequestTimeoutMs + " ms", CloseCode.policyViolation);
    }, opts.firstRequestTimeoutMs);
    this.firstRequestTimer.unref();
    ws.on("message", (data, isBinary) => this.onMessage(data, isBinary));
    ws.on("pong", () => this.touch());
    // `ws` reports oversized frames (closing with 1009) and invalid UTF-8 (1007) as errors; it closes the socket itself.
    ws.on("error", (err: Error) => this.host.emit({ type: "protocol_error", workload: host.workload, reason: sanitize(err.message, 200) }));
    ws.on("close", () => this.clearTimer());
  }

  get subscribed(): boolean {
    return this.names !== undefined;
  }

  private touch(): void {
    this.answered = true;
    this.lastSeen = this.opts.clock().getTime();
  }

  private clearTimer(): void {
    if (this.firstRequestTimer) clearTimeout(this.firstRequestTimer);
    this.firstRequestTimer = undefined;
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.closing) return;
    this.touch();
    try {
      if (isBinary) throw new SdsError("invalid_message", "binary frames are not supported; send JSON text frames");
      const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      this.handle(parseDiscoveryRequest(buf.toString("utf8")));
    } catch (err) {
      if (isSdsError(err)) {
        this.fail(err.message, isBinary ? CloseCode.unsupportedData : closeCodeFor(err.code));
      } else {
        // A bug of ours must not take the process down; this client alone is dropped.
        this.fail("internal error", 1011);
      }
    }
  }

  private handle(req: DiscoveryRequest): void {
    // Envoy semantics: an empty nonce opens (or reopens) the stream; any other nonce must be the latest we sent.
    if (req.response_nonce !== "" && req.response_nonce !== this.lastNonce) return;
    this.clearTimer();
    const changed = this.names === undefined || !sameNames(this.names, req.resource_names);
    this.names = req.resource_names;
    if (req.error_detail) {
      if (req.response_nonce !== "") {
        this.host.emit({
          type: "nack",
          workload: this.host.workload,
          version: this.lastSentVersion,
          message: sanitize(req.error_detail.message),
        });
      }
    }
    // An ACK needs nothing: the next push depends only on content changes, not on what was acknowledged.
    if (changed) this.push();
  }

  /** Sends the subscribed resources if they differ from what this client was last sent. */
  push(): void {
    if (this.closing || this.names === undefined) return;
    const resources = buildResources(this.host.secrets(), this.names);
    if (!resources) return;
    const key = JSON.stringify(resources);
    if (key === this.lastSentKey) return;
    if (this.ws.bufferedAmount > this.opts.maxBufferedBytes) {
      // The client stopped reading; a close frame would never get through either.
      this.host.emit({ type: "protocol_error", workload: this.host.workload, reason: "client is not reading (send buffer over limit)" });
      this.terminate();
      return;
    }
    const response: DiscoveryResponse = {
      version_info: this.host.version(),
      nonce: randomBytes(16).toString("hex"),
      type_url: SECRET_TYPE_URL,
      resources,
    };
    this.lastNonce = response.nonce;
    this.lastSentVersion = response.version_info;
    this.lastSentKey = key;
    this.ws.send(JSON.stringify(response), (err) => {
      if (err) this.terminate();
    });
  }

  /**
   * Heartbeat tick: drop a peer that missed two pings in a row and was silent
   * for longer than `deadAfterMs`; ping the others. Counting missed pings as
   * well as time keeps one event-loop stall (pong read after the timer fired)
   * from dropping a live peer.
   */
  heartbeat(deadAfterMs: number): void {
    if (this.closing) return;
    this.missedPings = this.answered ? 0 : this.missedPings + 1;
    this.answered = false;
    if (this.missedPings >= 2 && this.opts.clock().getTime() - this.lastSeen > deadAfterMs) {
      this.host.emit({ type: "protocol_error", workload: this.host.workload, reason: "heartbeat timeout" });
      this.terminate();
      return;
    }
    try {
      this.ws.ping();
    } catch {
      this.terminate();
    }
  }

  private fail(reason: string, code: number): void {
    if (this.closing) return;
    this.host.emit({ type: "protocol_error", workload: this.host.workload, reason });
    this.close(code, reason);
  }

  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.clearTimer();
    this.ws.close(code, closeReason(reason));
    // `ws` would wait 30 s for a peer that ignores the close frame; a hostile peer must not hold its slot that long.
    const cut = setTimeout(() => this.ws.terminate(), this.opts.closeTimeoutMs);
    cut.unref();
    this.ws.once("close", () => clearTimeout(cut));
  }

  terminate(): void {
    this.closing = true;
    this.clearTimer();
    this.ws.terminate();
  }

  /** Resolves once the socket is closed. */
  closed(): Promise<void> {
    if (this.ws.readyState === this.ws.CLOSED) return Promise.resolve();
    return new Promise((resolve) => this.ws.once("close", () => resolve()));
  }
}
