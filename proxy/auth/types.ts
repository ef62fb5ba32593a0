/**
 * Request authentication providers (JWT, HMAC, Basic, API key). A provider
 * only answers "who is this, if anyone": the `authn` filter (authn-filter.ts)
 * combines providers per route (any-of / all-of, allow_missing), strips
 * credentials, sets identity headers, audits failures and fills
 * FilterRequest.auth for the authorization filter.
 *
 * Providers never log, and never put a credential in a reason, code or
 * detail: those go to the audit log.
 */
import type { z } from "zod";
import type { FilterRequest, RequestAuth } from "../filters/types.js";

export type ProviderType = "jwt" | "hmac" | "basic" | "api_key";

/** The request carried no credential for this provider (allow_missing decides). */
export interface AuthMissing {
  readonly kind: "missing";
}

export interface AuthOk {
  readonly kind: "ok";
  /** JWT `<iss>/<sub>`; the consumer name for HMAC, Basic and API keys. */
  readonly principal: string;
  readonly method: RequestAuth["method"];
  /** Verified JWT claims (JWT only). */
  readonly claims?: Readonly<Record<string, unknown>>;
  /** Consumer name for `x-consumer-username` (HMAC, Basic, API key; JWT: absent). */
  readonly consumer?: string;
  /** Extra identity headers to send upstream (JWT claim_to_headers, forward_payload_header). */
  readonly setHeaders?: Readonly<Record<string, string>>;
  /** Lower-case header names holding the credential, removed before forwarding unless the provider keeps them. */
  readonly stripHeaders?: readonly string[];
  /** Query parameter names holding the credential, removed before forwarding unless kept. */
  readonly stripQuery?: readonly string[];
}

export interface AuthFailed {
  readonly kind: "fail";
  /** 401 for a bad or unverifiable credential, 403 for a valid one that lacks what is required, 429 when locked out. */
  readonly status: 401 | 403 | 429;
  /** Stable code for metrics and audit, e.g. "jwt_expired", "hmac_bad_signature", "basic_locked_out". */
  readonly code: string;
  /** For humans and the audit log; never a credential. */
  readonly reason: string;
  /** Value for WWW-Authenticate, e.g. `Bearer error="invalid_token"` or `Basic realm="mesh"`. */
  readonly challenge?: string;
  /** Extra response headers (e.g. Retry-After on a lockout). */
  readonly headers?: Readonly<Record<string, string>>;
  /** What the client is told when the code and reason would say too much (e.g. that a user name exists); they are still audited. */
  readonly publicCode?: string;
  readonly publicMessage?: string;
  /** Who it claimed to be, when known and not secret (JWT iss/sub, HMAC/Basic user name). */
  readonly principal?: string;
}

export type AuthOutcome = AuthMissing | AuthOk | AuthFailed;

export interface AuthProvider {
  readonly name: string;
  readonly type: ProviderType;
  /** True when the provider needs the whole request body (HMAC with body validation). */
  readonly needsBody: boolean;
  /** WWW-Authenticate for a request that carried no credential at all (RFC 6750: no error= then). */
  readonly missingChallenge: string;
  /** Headers this provider sets upstream (e.g. JWT claim headers): removed from every client request, so they cannot be forged. */
  readonly identityHeaders?: readonly string[];
  authenticate(req: FilterRequest, now: Date): AuthOutcome | Promise<AuthOutcome>;
  /** Stops watchers and timers (file reloads, JWKS refresh). */
  close?(): void;
}

export interface ProviderDeps {
  /** Time as a parameter: expiry, clock skew, lockouts, cache refresh. */
  readonly clock: () => Date;
  /** Relative file paths in the provider's config resolve against this. */
  readonly baseDir: string;
}

/** How a provider is built from its block: `providers: { <name>: { <type>: <config> } }`. */
export interface ProviderFactory<C = unknown> {
  readonly type: ProviderType;
  readonly schema: z.ZodType<C>;
  create(name: string, config: C, deps: ProviderDeps): AuthProvider;
}
