/**
 * The one interface every HTTP filter implements (Envoy's filter chain, kept
 * small). A filter looks at the request and either lets it go on (returns
 * undefined, no allocation on the fast path) or answers it with a Denial.
 * Filters are pure decisions: the chain audits denials, counts them and
 * writes the response, so a filter never touches the socket.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { z } from "zod";
import type { AuditSink } from "../../audit/event.js";
import type { PeerIdentity } from "../peer.js";

export type ListenerKind = "inbound" | "outbound" | "ingress";

/**
 * What filters see of a request. Headers are lower-case and may be changed
 * by a filter (e.g. auth strips credentials); a header set to undefined is
 * absent (filters remove headers that way rather than with `delete`, which
 * would make V8 turn the object into a slow dictionary).
 */
export interface FilterRequest {
  readonly method: string;
  /** Normalised path with the query string: what is forwarded. An auth filter may remove a credential parameter from it. */
  url: string;
  /** Path without the query string, percent-decoding left as received. */
  readonly path: string;
  /** Query string without the `?` ("" when none). */
  readonly query: string;
  /** Host (authority) lower-cased, port removed. */
  readonly host: string;
  readonly port: number;
  readonly headers: IncomingHttpHeaders;
  /** The request target exactly as received (for the WAF; unset in synthetic requests). */
  readonly rawUrl?: string;
  /** Header names and values as received, in order, repeats kept apart (Node's rawHeaders). */
  readonly rawHeaders?: readonly string[];
  /** "1.1" or "1.0". */
  readonly httpVersion?: string;
  readonly listener: ListenerKind;
  readonly listenerName: string;
  /** Name of the matched route ("" when none matched). */
  readonly route: string;
  /** The mTLS peer (inbound only). */
  readonly peer?: PeerIdentity;
  readonly remoteAddress: string;
  readonly requestId: string;
  /** The whole body, only when a filter in the chain declared needsBody (bounded by the listener's max_body_bytes). */
  readonly body?: Buffer;
  /** The verified end user, set by an authentication filter (JWT, HMAC, Basic, API token). */
  auth?: RequestAuth;
}

export interface RequestAuth {
  /** `iss/sub` for a JWT, the key id for HMAC, the user name for Basic, the token's name for API tokens. */
  readonly principal: string;
  readonly method: "jwt" | "hmac" | "basic" | "api_token";
  readonly claims?: Readonly<Record<string, unknown>>;
}

/** A filter's refusal. `code` is stable (goes to metrics and the audit log); `reason` is for humans and never holds a secret. */
export interface Denial {
  readonly status: number;
  readonly code: string;
  readonly reason: string;
  /** Extra response headers (e.g. Retry-After, WWW-Authenticate). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Audit outcome: "deny" for policy decisions (default), "failure" for broken input. */
  readonly outcome?: "deny" | "failure";
  /** Extra audit details (no secrets). */
  readonly details?: Readonly<Record<string, unknown>>;
  /** What the client is told, when it must be vaguer than the audited code and reason (e.g. not revealing whether a user exists). */
  readonly publicCode?: string;
  readonly publicMessage?: string;
  /** Audit component (default "proxy"; authentication failures use "auth"). */
  readonly component?: string;
}

export interface HttpFilter {
  readonly name: string;
  /** True when the filter needs the whole request body before deciding (WAF, HMAC). */
  readonly needsBody?: boolean;
  onRequest(req: FilterRequest): Denial | undefined | Promise<Denial | undefined>;
  /** Stops the filter's timers and watchers (called when the proxy stops). */
  close?(): void;
}

export interface FilterDeps {
  /** Time as a parameter (rate limits, token expiry). */
  readonly clock: () => Date;
  readonly audit: AuditSink;
  readonly listenerName: string;
  readonly listener: ListenerKind;
  /** Directory relative paths in the filter's config are resolved against (the config file's folder). */
  readonly baseDir: string;
}

/** How a filter is built from its config block: `filters: [{ <name>: <config> }]`. */
export interface FilterFactory<C = unknown> {
  readonly name: string;
  readonly schema: z.ZodType<C>;
  create(config: C, deps: FilterDeps): HttpFilter;
  /** Load-time checks beyond the schema (e.g. the WAF compiles its rule files); messages name the problem. */
  check?(config: C, baseDir: string): string[];
}
