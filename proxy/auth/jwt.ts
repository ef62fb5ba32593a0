/**
 * The `jwt` provider (Envoy jwt_authn / Istio RequestAuthentication): finds a
 * bearer token, checks its structure and header, picks the key by kid from a
 * local or remote JWKS (bound to the algorithms its type allows), verifies
 * the signature with jose, then the claims. Verified tokens are cached by
 * their SHA-256 until exp, and the cache is emptied whenever the key set
 * changes, so a key removed by the issuer stops working at the next refresh.
 */
import { isAbsolute, resolve } from "node:path";
import { compactVerify } from "jose";
import { ProxyError } from "../errors.js";
import type { FilterRequest } from "../filters/types.js";
import type { AuthFailed, AuthOk, AuthOutcome, AuthProvider, ProviderDeps, ProviderFactory } from "./types.js";
import { VerifiedCache, tokenKey } from "./jwt-cache.js";
import { checkClaims, claimValue, deepFreeze, headerValue, missingClaim, type ClaimRules } from "./jwt-claims.js";
import { extractToken, type TokenLocation, type TokenSources } from "./jwt-extract.js";
import { FileKeySource } from "./jwt-jwks-file.js";
import { RemoteKeySource } from "./jwt-jwks-remote.js";
import { StaticKeySource, parseJwks, selectKeys, type KeySet, type KeySource } from "./jwt-keys.js";
import { JWT_LIMITS, jwtConfigSchema, type JwtConfig } from "./jwt-schema.js";
import { isTokenProblem, parseJwt, type ParsedJwt } from "./jwt-token.js";

export { jwtConfigSchema, type JwtConfig, type JwtConfigInput, JWT_LIMITS } from "./jwt-schema.js";

const MISSING: AuthOutcome = { kind: "missing" };

/** What a verified token yields, whatever request it came in (cached). */
type Verified =
  | { readonly kind: "ok"; readonly principal: string; readonly claims: Readonly<Record<string, unknown>>; readonly setHeaders: Readonly<Record<string, string>> }
  | AuthFailed;

export class JwtProvider implements AuthProvider {
  readonly type = "jwt" as const;
  readonly needsBody = false;
  private readonly allowed: ReadonlySet<string>;
  private readonly sources: TokenSources;
  private readonly rules: ClaimRules;
  private readonly cache: VerifiedCache<Verified>;
  private readonly source: KeySource;
  private readonly challenge: string;
  readonly missingChallenge: string;
  readonly identityHeaders: readonly string[];
  private readonly scopeChallenge: string;

  constructor(
    readonly name: string,
    private readonly config: JwtConfig,
    deps: ProviderDeps,
  ) {
    this.allowed = new Set(config.algorithms);
    this.sources = { headers: config.from_headers, params: config.from_params, cookies: config.from_cookies };
    this.rules = {
      issuer: config.issuer,
      ...(config.audiences ? { audiences: new Set(config.audiences) } : {}),
      skewMs: config.clock_skew,
      requireExp: config.require_exp,
      ...(config.max_lifetime !== undefined ? { maxLifetimeMs: config.max_lifetime } : {}),
    };
    this.cache = new VerifiedCache(config.cache_size);
    this.challenge = `Bearer realm="${name}", error="invalid_token"`;
    this.missingChallenge = `Bearer realm="${name}"`;
    this.identityHeaders = [...config.claim_to_headers.map((c) => c.header), ...(config.forward_payload_header ? [config.forward_payload_header] : [])];
    this.scopeChallenge = `Bearer realm="${name}", error="insufficient_scope"`;
    const onChange = (): void => this.cache.clear();
    if (config.jwks !== undefined) {
      const set = parseJwks(config.jwks, { local: true });
      if (typeof set === "string") throw new ProxyError("invalid_config", `jwt provider "${name}": jwks: ${set}`);
      this.source = new StaticKeySource(set);
    } else if (config.jwks_file !== undefined) {
      const path = isAbsolute(config.jwks_file) ? config.jwks_file : resolve(deps.baseDir, config.jwks_file);
      let file: FileKeySource;
      try {
        file = new FileKeySource(path, onChange);
      } catch (err) {
        throw new ProxyError("invalid_config", `jwt provider "${name}": jwks_file ${path}: ${(err as Error).message}`);
      }
      file.start();
      this.source = file;
    } else {
      const remote = new RemoteKeySource({
        url: config.jwks_uri!,
        cacheMs: config.jwks_cache_duration,
        timeoutMs: config.jwks_fetch_timeout,
        clock: deps.clock,
        onChange,
      });
      remote.start();
      this.source = remote;
    }
  }

  /** The key source (status output and tests: fetch counts, last error). */
  get keys(): KeySource {
    return this.source;
  }

  get cacheSize(): number {
    return this.cache.size;
  }

  /** Reloads the key set now (file re-read or URL re-fetched). */
  refreshKeys(): Promise<void> {
    return this.source.refresh();
  }

  close(): void {
    this.source.close();
  }

  authenticate(req: FilterRequest, now: Date): AuthOutcome | Promise<AuthOutcome> {
    const found = extractToken(req, this.sources);
    if (found.kind === "none") return MISSING;
    if (found.kind === "fail") return this.fail(found.code, found.reason);
    const token = found.token;
    if (token.length > JWT_LIMITS.tokenBytes) {
      return this.fail("jwt_too_large", `the token is longer than ${JWT_LIMITS.tokenBytes} bytes`);
    }
    const nowMs = now.getTime();
    // Lets a remote key set refresh in the background even when every request is a cache hit.
    this.source.current(nowMs);
    const key = this.cache.enabled ? tokenKey(token) : "";
    if (key) {
      const hit = this.cache.get(key, nowMs);
      if (hit) return this.finish(hit, found.where);
    }
    const parsed = parseJwt(token, this.allowed);
    if (isTokenProblem(parsed)) return this.fail(parsed.code, parsed.reason);
    return this.verify(token, parsed, nowMs).then(
      ({ verified, expMs, keySet }) => {
        // Not cached if the key set changed while this token was being checked.
        if (key && expMs !== undefined && keySet === this.source.current(nowMs)) this.cache.set(key, verified, expMs);
        return this.finish(verified, found.where);
      },
      // Not expected; a token that could not be checked is refused, never let through.
      () => this.fail("jwt_unverifiable", "the token could not be checked"),
    );
  }

  private fail(code: string, reason: string, principal?: string): AuthFailed {
    return { kind: "fail", status: 401, code, reason, challenge: this.challenge, ...(principal ? { principal } : {}) };
  }

  /** A key set, fetching on the request path only when there is none yet (rate-limited). */
  private async keySet(nowMs: number): Promise<KeySet | undefined> {
    return this.source.current(nowMs) ?? (await this.source.refetch(nowMs));
  }

  /**
   * Signature, then claims. `expMs` is set only when the outcome may be
   * cached; `keySet` is the set it was checked against.
   */
  private async verify(token: string, t: ParsedJwt, nowMs: number): Promise<{ verified: Verified; expMs?: number; keySet?: KeySet }> {
    const set = await this.keySet(nowMs);
    if (!set) return { verified: this.fail("jwt_jwks_unavailable", "no key set could be loaded from the issuer") };
    let keySet = set;
    let sel = selectKeys(set, t.kid, t.alg);
    if ("code" in sel && sel.code === "jwt_unknown_kid") {
      // The issuer may have rotated keys since the last fetch.
      const again = this.source.refetch(nowMs);
      const fresh = again ? await again : undefined;
      if (fresh) {
        keySet = fresh;
        sel = selectKeys(fresh, t.kid, t.alg);
      }
    }
    if ("code" in sel) return { verified: this.fail(sel.code, sel.reason) };
    let ok = false;
    for (const k of sel.keys) {
      try {
        await compactVerify(token, k.jwk, { algorithms: [t.alg] });
        ok = true;
        break;
      } catch {
        // Wrong key among several with the same kid, or a bad signature: try the next.
      }
    }
    if (!ok) return { verified: this.fail("jwt_bad_signature", "the signature does not verify with the issuer's key") };
    const c = checkClaims(t.payload, this.rules, nowMs);
    if (!c.ok) return { verified: this.fail(c.code, c.reason, c.principal) };
    const claims = deepFreeze(t.payload);
    const missing = this.config.required_claims ? missingClaim(claims, this.config.required_claims) : undefined;
    const verified: Verified = missing
      ? {
          kind: "fail",
          status: 403,
          code: "jwt_missing_claim",
          reason: `the token lacks the required claim ${JSON.stringify(missing)}`,
          challenge: this.scopeChallenge,
          principal: c.principal,
        }
      : { kind: "ok", principal: c.principal, claims, setHeaders: this.headersFor(claims, t.payloadSegment) };
    return { verified, keySet, ...(c.expMs !== undefined ? { expMs: c.expMs } : {}) };
  }

  private headersFor(claims: Readonly<Record<string, unknown>>, payloadSegment: string): Readonly<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const { claim, header } of this.config.claim_to_headers) {
      const v = headerValue(claimValue(claims, claim));
      if (v !== undefined) out[header] = v;
    }
    if (this.config.forward_payload_header) out[this.config.forward_payload_header] = payloadSegment;
    return Object.freeze(out);
  }

  private finish(v: Verified, where: TokenLocation): AuthOutcome {
    if (v.kind === "fail") return v;
    if (this.config.forward) {
      return { kind: "ok", principal: v.principal, method: "jwt", claims: v.claims, setHeaders: v.setHeaders };
    }
    const ok: AuthOk = {
      kind: "ok",
      principal: v.principal,
      method: "jwt",
      claims: v.claims,
      setHeaders: where.cookieRest !== undefined ? { ...v.setHeaders, cookie: where.cookieRest } : v.setHeaders,
      stripHeaders: where.stripHeaders,
      stripQuery: where.stripQuery,
    };
    return ok;
  }
}

export const jwtProvider: ProviderFactory<JwtConfig> = {
  type: "jwt",
  schema: jwtConfigSchema,
  create: (name, config, deps) => new JwtProvider(name, config, deps),
};
