/**
 * A JWKS fetched from the issuer (undici): cached for jwks_cache_duration and
 * refreshed in the background at 80% of it, so requests never wait for a
 * routine refresh. The request path may wait for a fetch only when it cannot
 * decide otherwise (no key set yet, or a kid the set lacks after a key
 * rotation), and then at most once per refetch window, so a flood of tokens
 * with made-up kids cannot turn the proxy against the issuer. A failed fetch
 * keeps the last good key set.
 */
import { Agent, request, type Dispatcher } from "undici";
import { JWT_LIMITS } from "./jwt-schema.js";
import { parseJwks, type KeySet, type KeySource } from "./jwt-keys.js";

/** Fetches and parses the JSON at url, bounded in time and size. */
export type JwksFetcher = (url: string, timeoutMs: number) => Promise<unknown>;

/** Refresh this far into the cache duration (before it runs out). */
const REFRESH_AT = 0.8;

function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code ? `${code}: ${err.message}` : err.message;
  }
  return "fetch failed";
}

export function undiciFetcher(dispatcher: Dispatcher): JwksFetcher {
  return async (url, timeoutMs) => {
    const res = await request(url, {
      method: "GET",
      dispatcher,
      signal: AbortSignal.timeout(timeoutMs),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      headers: { accept: "application/jwk-set+json, application/json" },
    });
    try {
      // Redirects are not followed: the configured URL is the trust anchor.
      if (res.statusCode !== 200) throw new Error(`the JWKS endpoint answered HTTP ${res.statusCode}`);
      const declared = Number(res.headers["content-length"]);
      if (Number.isFinite(declared) && declared > JWT_LIMITS.jwksBytes) throw new Error(`the JWKS is larger than ${JWT_LIMITS.jwksBytes} bytes`);
      const chunks: Buffer[] = [];
      let total = 0;
      for await (const chunk of res.body) {
        const b = chunk as Buffer;
        total += b.length;
        if (total > JWT_LIMITS.jwksBytes) throw new Error(`the JWKS is larger than ${JWT_LIMITS.jwksBytes} bytes`);
        chunks.push(b);
      }
      try {
        return JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
      } catch {
        throw new Error("the JWKS is not JSON");
      }
    } finally {
      if (!res.body.destroyed) {
        // Destroying an unread body emits an AbortError; without a listener that would crash the process.
        res.body.on("error", () => undefined);
        res.body.destroy();
      }
    }
  };
}

export interface RemoteOptions {
  readonly url: string;
  readonly cacheMs: number;
  readonly timeoutMs: number;
  readonly clock: () => Date;
  /** Called when the usable keys change. */
  readonly onChange: () => void;
}

export class RemoteKeySource implements KeySource {
  private set: KeySet | undefined;
  private fetchedAtMs = -Infinity;
  private lastAttemptMs = -Infinity;
  private lastRequestFetchMs = -Infinity;
  private inFlight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly agent: Agent;
  private readonly fetcher: JwksFetcher;
  private closed = false;
  lastError: string | undefined;
  /** Fetches started, by cause (status and tests). */
  readonly fetches = { background: 0, request: 0 };

  constructor(private readonly opts: RemoteOptions) {
    this.agent = new Agent({ connect: { timeout: opts.timeoutMs }, keepAliveTimeout: 10_000, connections: 2 });
    this.fetcher = undiciFetcher(this.agent);
  }

  /** First fetch (in the background) and the refresh timer; call once. */
  start(): void {
    void this.fetch("background");
    // The timer only asks; the clock decides, so a fake clock keeps control in tests.
    const period = Math.max(1000, Math.min(60_000, Math.floor(this.opts.cacheMs / 5)));
    this.timer = setInterval(() => this.maybeRefresh(this.opts.clock().getTime()), period);
    this.timer.unref();
  }

  current(nowMs: number): KeySet | undefined {
    this.maybeRefresh(nowMs);
    return this.set;
  }

  private maybeRefresh(nowMs: number): void {
    if (this.inFlight || this.closed) return;
    if (nowMs - this.fetchedAtMs < this.opts.cacheMs * REFRESH_AT) return;
    if (nowMs - this.lastAttemptMs < JWT_LIMITS.retryAfterFailureMs) return;
    void this.fetch("background");
  }

  refetch(nowMs: number): Promise<KeySet | undefined> | undefined {
    if (this.closed) return undefined;
    if (this.inFlight) return this.inFlight.then(() => this.set);
    if (nowMs - this.lastRequestFetchMs < JWT_LIMITS.refetchWindowMs) return undefined;
    this.lastRequestFetchMs = nowMs;
    return this.fetch("request").then(() => this.set);
  }

  refresh(): Promise<void> {
    return this.inFlight ?? this.fetch("background");
  }

  /** The fetch in flight, if any, without starting one: what a caller waits on when a request may have started a refresh. */
  settled(): Promise<void> {
    return this.inFlight ?? Promise.resolve();
  }

  private fetch(cause: "background" | "request"): Promise<void> {
    this.fetches[cause]++;
    this.lastAttemptMs = this.opts.clock().getTime();
    // .finally runs as a callback, so `run` is assigned before it clears inFlight.
    const run: Promise<void> = this.load().finally(() => {
      if (this.inFlight === run) this.inFlight = undefined;
    });
    this.inFlight = run;
    return run;
  }

  private async load(): Promise<void> {
    try {
      const doc = await this.fetcher(this.opts.url, this.opts.timeoutMs);
      const next = parseJwks(doc, { local: false });
      if (typeof next === "string") throw new Error(next);
      this.fetchedAtMs = this.opts.clock().getTime();
      this.lastError = undefined;
      if (!this.set || this.set.fingerprint !== next.fingerprint) {
        this.set = next;
        this.opts.onChange();
      }
    } catch (err) {
      this.lastError = describe(err);
    }
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    void this.agent.close().catch(() => undefined);
  }
}
