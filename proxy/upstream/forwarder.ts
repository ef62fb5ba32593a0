/**
 * The router's back half: picks the cluster (weights), then per attempt an
 * endpoint, takes the circuit breakers, dispatches on the endpoint's pool
 * with undici's handler API (no intermediate streams: response chunks go
 * straight to the client with back-pressure), and retries idempotent
 * requests on the route's conditions within the retry budget and the total
 * timeout. A retried response is drained, never shown to the client.
 */
import type { ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { Dispatcher } from "undici";
import type { Cluster } from "../cluster/cluster.js";
import type { Endpoint } from "../cluster/endpoint.js";
import { outcomeRetriable, type AttemptOutcome } from "../cluster/retry.js";
import { sendLocalReply, type Exchange } from "../http/exchange.js";
import type { Forwarder } from "../http/handler.js";
import { downstreamRawHeaders } from "../http/headers.js";
import { refuseUpgrade, tunnel, writeRequestHead } from "../http/tunnel.js";
import type { ProxyMetrics } from "../metrics.js";
import { pickCluster } from "../routing/table.js";
import { connectMtls, connectPlain, type MtlsDeps } from "./connector.js";
import { ConnectError, type PoolManager } from "./pools.js";

export interface ForwarderDeps {
  clusters: ReadonlyMap<string, Cluster>;
  pools: PoolManager;
  metrics: ProxyMetrics;
  mtls: MtlsDeps;
  random: () => number;
  now: () => number;
}

/** undici's own header and body timeouts: 5 minutes, after any route timeout. */
const UNDICI_BACKSTOP_MS = 300_000;

const STATUS_CLASS = ["0xx", "1xx", "2xx", "3xx", "4xx", "5xx"];

function tryTimeoutError(): Error {
  return Object.assign(new Error("per-try timeout"), { code: "UND_ERR_HEADERS_TIMEOUT" });
}

const FAILURE_STATUS: Record<"connect-failure" | "reset" | "timeout", number> = { "connect-failure": 503, reset: 503, timeout: 504 };

function classify(err: Error): { outcome: "connect-failure" | "reset" | "timeout"; code: string } {
  if (err instanceof ConnectError) return { outcome: "connect-failure", code: err.code };
  const code = (err as { code?: string }).code ?? "";
  if (code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT") return { outcome: "timeout", code: "upstream_timeout" };
  if (code === "UND_ERR_CONNECT_TIMEOUT" || code === "ECONNREFUSED") return { outcome: "connect-failure", code: "upstream_connect_failure" };
  return { outcome: "reset", code: "upstream_reset" };
}

export class UpstreamForwarder implements Forwarder {
  constructor(private readonly d: ForwarderDeps) {}

  forward(ex: Exchange): void {
    const name = pickCluster(ex.route, this.d.random);
    const cluster = this.d.clusters.get(name);
    if (!cluster) {
      sendLocalReply(ex.res, 500, "no_cluster", `route ${ex.route.name} names unknown cluster ${name}`, ex.filterRequest.requestId);
      ex.finish(500, { cluster: name, code: "no_cluster" });
      return;
    }
    new Attempts(this.d, ex, cluster).start();
  }

  tunnel(ex: Exchange, client: Duplex, head: Buffer): void {
    const name = pickCluster(ex.route, this.d.random);
    const cluster = this.d.clusters.get(name);
    const ep = cluster?.pick({ now: this.d.now() });
    if (!cluster || !ep) {
      refuseUpgrade(client, 503, JSON.stringify({ error: { code: "no_healthy_upstream", message: `no endpoint for cluster ${name}` } }));
      ex.finish(503, { cluster: name, code: "no_healthy_upstream" });
      return;
    }
    const address = { host: ep.host, port: ep.port };
    const connectTimeoutMs = cluster.config.connect_timeout;
    const opened = (err: Error | null, up: Duplex | null): void => {
      if (err || !up) {
        cluster.onResult(ep, "connect-failure", this.d.now());
        refuseUpgrade(client, 503, JSON.stringify({ error: { code: "upstream_connect_failure", message: err?.message ?? "connect failed" } }));
        ex.finish(503, { cluster: name, upstream: ep.address, code: "upstream_connect_failure" });
        return;
      }
      writeRequestHead(up, ex.method, ex.url, ex.headers, head);
      tunnel(client, up, () => {
        cluster.onResult(ep, 101, this.d.now());
        ex.finish(101, { cluster: name, upstream: ep.address });
      });
    };
    if (cluster.spiffeId !== undefined) connectMtls({ address, expectedSpiffeId: cluster.spiffeId, connectTimeoutMs }, this.d.mtls, opened);
    else connectPlain(address, connectTimeoutMs, opened);
  }
}

const ATTEMPTS = Symbol("attempts");
type AttemptsOf = ServerResponse & { [ATTEMPTS]?: Attempts };

/** One request's attempts. */
class Attempts implements Dispatcher.DispatchHandler {
  private retries = 0;
  private ep: Endpoint | undefined;
  private lastEp: Endpoint | undefined;
  private status = 0;
  private discard = false;
  private done = false;
  private cancelled = false;
  private pending = false;
  /** undici's abort for the attempt in flight (onConnect). */
  private abortAttempt: ((err?: Error) => void) | undefined;
  /** undici's resume for a paused response (onHeaders). */
  private resumeBody: (() => void) | undefined;
  private totalTimer: NodeJS.Timeout | undefined;
  /** Per attempt: undici's own header timeout ticks in whole seconds, too coarse for a per_try_timeout of 200 ms. */
  private tryTimer: NodeJS.Timeout | undefined;
  private tryExpired = false;
  private timedOut = false;
  private readonly deadline: number;
  private readonly perTryMs: number;

  constructor(
    private readonly d: ForwarderDeps,
    private readonly ex: Exchange,
    private readonly cluster: Cluster,
  ) {
    const t = cluster.timeouts({ timeoutMs: ex.route.timeoutMs, perTryTimeoutMs: ex.route.perTryTimeoutMs });
    this.deadline = t.timeoutMs > 0 ? ex.startedAt + t.timeoutMs : Infinity;
    this.perTryMs = t.perTryTimeoutMs;
    // shared callbacks that find this request through their argument or the response: no closure per request
    if (t.timeoutMs > 0) this.totalTimer = setTimeout(Attempts.totalTimeout, Math.max(1, this.deadline - Date.now()), this);
    (ex.res as AttemptsOf)[ATTEMPTS] = this;
    // "close" comes once per response
    ex.res.on("close", Attempts.responseClosed);
  }

  private static totalTimeout(this: void, a: Attempts): void {
    a.onTotalTimeout();
  }

  private static tryTimeout(this: void, a: Attempts): void {
    a.onTryTimeout();
  }

  private static responseClosed(this: ServerResponse): void {
    const a = (this as AttemptsOf)[ATTEMPTS];
    if (a !== undefined) a.onClientClose();
  }

  private onClientClose(): void {
    if (this.done) return;
    this.cancelled = true;
    const abort = this.abortAttempt;
    if (abort) abort(new Error("client closed the connection"));
    else if (this.ep && !this.pending) this.release("cancelled");
    this.end(499, "client_closed");
  }

  start(): void {
    const c = this.cluster;
    const ep = c.pick({ now: this.d.now(), avoid: this.lastEp });
    if (!ep) return this.fail(503, "no_healthy_upstream", `cluster ${c.name} has no healthy endpoint`);
    if (!c.breaker.tryAcquire("requests")) {
      c.onResult(ep, "cancelled", this.d.now());
      this.d.metrics.upstreamResult(c.name, "overflow");
      return this.fail(503, "overflow", `cluster ${c.name}: max_requests reached`);
    }
    if (!c.breaker.tryAcquire("pending")) {
      c.breaker.release("requests");
      c.onResult(ep, "cancelled", this.d.now());
      this.d.metrics.upstreamResult(c.name, "overflow");
      return this.fail(503, "overflow", `cluster ${c.name}: max_pending_requests reached`);
    }
    this.pending = true;
    this.ep = ep;
    this.status = 0;
    this.discard = false;
    this.abortAttempt = undefined;
    const body = this.ex.body;
    const perTry = this.perTryMs > 0 ? this.perTryMs : undefined;
    // reset before dispatch: onConnect may run inside dispatch()
    this.tryExpired = false;
    if (perTry !== undefined) this.tryTimer = setTimeout(Attempts.tryTimeout, perTry, this);
    this.d.pools.get(c, ep).dispatch(
      {
        path: this.ex.url,
        method: this.ex.method as Dispatcher.HttpMethod,
        headers: this.ex.headers as Record<string, string | string[]>,
        body: body ?? null,
        // only a backstop (the route's timers above decide); one value for both, so undici refreshes its timer instead of making one per request and phase
        headersTimeout: UNDICI_BACKSTOP_MS,
        bodyTimeout: UNDICI_BACKSTOP_MS,
        idempotent: false,
      },
      this,
    );
  }

  /*
   * undici's own handler interface (onConnect, onHeaders, onData, onComplete,
   * onError), which its dispatcher calls directly; the newer one (onRequestStart
   * ...) is served through a wrapper that makes a controller and turns the raw
   * headers into an object on every request. Ours go straight from the raw list
   * to the client's response.
   */

  onConnect(abort: (err?: Error) => void): void {
    this.abortAttempt = abort;
    this.releasePending();
    if (this.cancelled) abort(new Error("client closed the connection"));
    else if (this.tryExpired) abort(tryTimeoutError());
  }

  private onTryTimeout(): void {
    this.tryTimer = undefined;
    this.tryExpired = true;
    this.abortAttempt?.(tryTimeoutError());
  }

  private clearTryTimer(): void {
    if (this.tryTimer) clearTimeout(this.tryTimer);
    this.tryTimer = undefined;
  }

  /** Returns false to pause the response (never here: only onData pauses). */
  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    this.resumeBody = resume;
    this.releasePending();
    if (statusCode < 200) return true; // 1xx informational: wait for the final status
    this.clearTryTimer();
    this.status = statusCode;
    if (this.wantsRetry(statusCode)) {
      this.discard = true;
      return true;
    }
    const res = this.ex.res;
    if (this.done || res.headersSent || res.destroyed) return true;
    res.writeHead(statusCode, downstreamRawHeaders(rawHeaders));
    return true;
  }

  /** Returns false to pause the response until the client drains. */
  onData(chunk: Buffer): boolean {
    if (this.discard || this.done) return true;
    if (this.ex.res.write(chunk)) return true;
    this.ex.res.once("drain", this.resumeBody!);
    return false;
  }

  onComplete(): void {
    const status = this.status;
    this.release(status);
    if (this.discard) return this.retryLater();
    this.d.metrics.upstreamResult(this.cluster.name, STATUS_CLASS[Math.floor(status / 100)] ?? "other");
    this.ex.res.end();
    this.end(status);
  }

  onError(err: Error): void {
    this.releasePending();
    this.clearTryTimer();
    if (this.cancelled || this.done || this.timedOut) {
      // we aborted it (client gone, total timeout): the attempt is accounted for already or now
      if (this.ep) this.release(this.cancelled ? "cancelled" : "timeout");
      return;
    }
    const { outcome, code } = classify(err);
    this.release(outcome);
    this.d.metrics.upstreamResult(this.cluster.name, outcome.replace("-", "_"));
    if (this.ex.res.headersSent) {
      // the response had started: all we can do is cut it so the client sees a broken response, not a short one
      this.ex.res.destroy(err);
      return this.end(this.status || 502, code);
    }
    if (this.wantsRetry(outcome)) return this.retryLater();
    const status = err instanceof ConnectError && err.code === "overflow" ? 503 : FAILURE_STATUS[outcome];
    this.fail(status, err instanceof ConnectError ? err.code : code, err.message);
  }

  private wantsRetry(outcome: AttemptOutcome): boolean {
    // the common case: a status the policy does not retry, decided without the budget bookkeeping
    if (!outcomeRetriable(this.ex.route.retryPolicy, outcome)) return false;
    if (this.done || this.ex.res.headersSent) return false;
    // a streamed request body cannot be replayed
    if (this.ex.body !== undefined && !Buffer.isBuffer(this.ex.body)) return false;
    const remaining = Number.isFinite(this.deadline) ? this.deadline - Date.now() : undefined;
    const d = this.cluster.tryRetry(this.ex.route.retryPolicy, this.ex.method, outcome, this.retries, remaining);
    if (!d.retry) return false;
    this.retryDelay = d.delayMs;
    return true;
  }

  private retryDelay = 0;

  private retryLater(): void {
    this.retries++;
    this.d.metrics.retries.labels(this.cluster.name).inc();
    const go = (): void => {
      this.cluster.releaseRetry();
      if (!this.done) this.start();
    };
    if (this.retryDelay > 0) setTimeout(go, this.retryDelay);
    else go();
  }

  private releasePending(): void {
    if (this.pending) {
      this.pending = false;
      this.cluster.breaker.release("pending");
    }
  }

  private release(outcome: AttemptOutcome | "cancelled"): void {
    const ep = this.ep;
    if (!ep) return;
    this.ep = undefined;
    this.lastEp = ep;
    this.releasePending();
    this.cluster.breaker.release("requests");
    this.cluster.onResult(ep, outcome, this.d.now());
  }

  private onTotalTimeout(): void {
    if (this.done) return;
    this.timedOut = true;
    this.clearTryTimer();
    this.abortAttempt?.(new Error("route timeout"));
    if (this.ep) this.release("timeout");
    if (this.ex.res.headersSent) {
      this.ex.res.destroy();
      return this.end(this.status, "upstream_timeout");
    }
    this.fail(504, "upstream_timeout", "upstream request timeout");
  }

  private fail(status: number, code: string, message: string): void {
    if (this.done) return;
    sendLocalReply(this.ex.res, status, code, message, this.ex.filterRequest.requestId);
    this.end(status, code);
  }

  private end(status: number, code?: string): void {
    if (this.done) return;
    this.done = true;
    if (this.totalTimer) clearTimeout(this.totalTimer);
    this.clearTryTimer();
    this.ex.finish(status, { cluster: this.cluster.name, upstream: this.lastEp?.address, attempts: this.retries + 1, code });
  }
}
