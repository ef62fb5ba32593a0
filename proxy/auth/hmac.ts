/**
 * The `hmac` provider: Kong hmac-auth signatures, checked against secrets in
 * a consumers file. Checks, in order (the first that fails decides):
 *   1. an `hmac` credential in Proxy-Authorization, else Authorization
 *      (none: "missing", so another provider or allow_missing decides);
 *   2. it parses (hmac_malformed), its algorithm is allowed (hmac_bad_algorithm)
 *      and it signs every enforce_headers name (hmac_enforced_header);
 *   3. X-Date (preferred) or Date is present, signed, and within clock_skew
 *      (hmac_clock_skew; unsigned: hmac_enforced_header);
 *   4. every signed header is present (hmac_missing_header);
 *   5. the user is known (hmac_unknown_user) and the signature matches
 *      (hmac_bad_signature, compared in constant time);
 *   6. with validate_request_body, the Digest header matches the body and is
 *      signed (hmac_bad_digest);
 *   7. the signature was not accepted within replay_window (hmac_replay).
 * Every failure is a 401 with `WWW-Authenticate: hmac realm="<name>"`.
 */
import { randomBytes } from "node:crypto";
import { ProxyError } from "../errors.js";
import type { FilterRequest } from "../filters/types.js";
import { CredentialFile, resolveFrom, type CredentialFileStatus } from "./consumers.js";
import { loadHmacConsumers, type HmacSecrets } from "./hmac-consumers.js";
import { isHmacScheme, parseHmacCredentials } from "./hmac-params.js";
import { ReplayCache } from "./hmac-replay.js";
import { hmacConfigSchema, type HmacConfig } from "./hmac-schema.js";
import {
  bodyDigest,
  computeHmac,
  decodeBase64,
  headerValue,
  isHmacAlgorithm,
  parseHttpDate,
  safeEqual,
  signingString,
  type HmacAlgorithm,
} from "./hmac-signing.js";
import type { AuthFailed, AuthOutcome, AuthProvider, ProviderDeps, ProviderFactory } from "./types.js";

export type { HmacConfig, HmacConfigInput } from "./hmac-schema.js";
export { hmacConfigSchema } from "./hmac-schema.js";

const CREDENTIAL_HEADERS = ["proxy-authorization", "authorization"] as const;
const UNKNOWN_USER_KEY = randomBytes(32);

/** A quoted-string parameter value for a challenge (quotes and backslashes escaped). */
export function quoteParam(v: string): string {
  return `"${v.replace(/[\\"]/g, "\\$&")}"`;
}

export class HmacProvider implements AuthProvider {
  readonly type = "hmac";
  readonly needsBody: boolean;
  private readonly consumers: CredentialFile<HmacSecrets>;
  private readonly allowed: ReadonlySet<string>;
  private readonly replay: ReplayCache | undefined;
  private readonly challenge: string;
  get missingChallenge(): string {
    return this.challenge;
  }

  constructor(
    readonly name: string,
    private readonly config: HmacConfig,
    deps: ProviderDeps,
  ) {
    this.needsBody = config.validate_request_body;
    this.allowed = new Set(config.algorithms);
    const windowMs = config.replay_window ?? 2 * config.clock_skew;
    this.replay = windowMs > 0 ? new ReplayCache(windowMs, config.replay_cache_size) : undefined;
    const enforced = config.enforce_headers.length > 0 ? `, headers=${quoteParam(config.enforce_headers.join(" "))}` : "";
    this.challenge = `hmac realm=${quoteParam(name)}${enforced}`;
    const path = resolveFrom(deps.baseDir, config.consumers_file);
    try {
      this.consumers = new CredentialFile(path, loadHmacConsumers, deps.clock().getTime());
    } catch (err) {
      if (err instanceof ProxyError) throw new ProxyError(err.code, `hmac provider "${name}": ${err.message}`, { cause: err });
      throw err;
    }
  }

  /** The consumers file: entries, last reload error, permission warnings. */
  status(): CredentialFileStatus {
    return this.consumers.status();
  }

  authenticate(req: FilterRequest, now: Date): AuthOutcome {
    let credential: string | undefined;
    const strip: string[] = [];
    for (const h of CREDENTIAL_HEADERS) {
      const v = req.headers[h];
      if (typeof v === "string" && isHmacScheme(v)) {
        credential ??= v;
        strip.push(h);
      }
    }
    if (credential === undefined) return { kind: "missing" };

    const parsed = parseHmacCredentials(credential);
    if (!parsed.ok) return this.fail("hmac_malformed", `malformed hmac credentials: ${parsed.error}`);
    const p = parsed.params;
    const who = p.username;
    if (!isHmacAlgorithm(p.algorithm) || !this.allowed.has(p.algorithm)) {
      const shown = /^[a-z0-9-]{1,32}$/.test(p.algorithm) ? `"${p.algorithm}"` : "given";
      return this.fail("hmac_bad_algorithm", `algorithm ${shown} is not allowed (allowed: ${this.config.algorithms.join(", ")})`, who);
    }
    const signed = new Set(p.headers);
    const unsigned = this.config.enforce_headers.filter((h) => !signed.has(h));
    if (unsigned.length > 0) return this.fail("hmac_enforced_header", `the signature must cover ${unsigned.join(", ")}`, who);

    const dateFail = this.checkDate(req, signed, now.getTime(), who);
    if (dateFail) return dateFail;

    const text = signingString(req, p.headers);
    if (typeof text !== "string") return this.fail("hmac_missing_header", `signed header "${text.missing}" is not in the request`, who);

    const secret = this.consumers.current(now.getTime()).get(p.username);
    // An unknown user costs the same HMAC as a known one, so timing does not tell which names exist.
    const expected = computeHmac(p.algorithm as HmacAlgorithm, secret ?? UNKNOWN_USER_KEY, text);
    if (secret === undefined) {
      // audited as it is, answered like a bad signature: the client must not learn which user names exist
      return { ...this.fail("hmac_unknown_user", `unknown hmac user ${JSON.stringify(who)}`, who), publicCode: "hmac_bad_signature", publicMessage: "the request signature is not valid" };
    }

    const given = decodeBase64(p.signature);
    if (given === undefined) return this.fail("hmac_malformed", "malformed hmac credentials: the signature is not base64", who);
    if (!safeEqual(given, expected)) return this.fail("hmac_bad_signature", `signature does not match for ${JSON.stringify(who)}`, who);

    if (this.config.validate_request_body) {
      const digestFail = this.checkDigest(req, signed, who);
      if (digestFail) return digestFail;
    }

    if (this.replay) {
      const key = ReplayCache.key(given);
      if (this.replay.seen(key, now.getTime())) {
        return this.fail("hmac_replay", `this signature from ${JSON.stringify(who)} was already used; sign each request anew`, who);
      }
      this.replay.record(key, now.getTime());
    }

    return {
      kind: "ok",
      principal: p.username,
      consumer: p.username,
      method: "hmac",
      ...(this.config.hide_credentials ? { stripHeaders: strip } : {}),
    };
  }

  close(): void {
    // Nothing to stop: the consumers file is re-checked on requests, not by a timer.
  }

  /** X-Date if present (clients that cannot set Date use it), else Date: signed and within clock_skew. */
  private checkDate(req: FilterRequest, signed: ReadonlySet<string>, nowMs: number, who: string): AuthFailed | undefined {
    const name = req.headers["x-date"] !== undefined ? "x-date" : "date";
    const value = headerValue(req, name);
    if (value === undefined) return this.fail("hmac_clock_skew", "a Date or X-Date header is required for hmac authentication", who);
    // An unsigned date could be replaced, making an old signature look fresh.
    if (!signed.has(name)) return this.fail("hmac_enforced_header", `the signature must cover the ${name} header`, who);
    const t = parseHttpDate(value, nowMs);
    if (t === undefined) return this.fail("hmac_clock_skew", `the ${name} header is not an HTTP date`, who);
    const skew = Math.abs(nowMs - t);
    if (skew > this.config.clock_skew) {
      return this.fail(
        "hmac_clock_skew",
        `the ${name} header is ${Math.round(skew / 1000)}s ${t > nowMs ? "ahead of" : "behind"} the proxy's clock (allowed ${this.config.clock_skew / 1000}s)`,
        who,
      );
    }
    return undefined;
  }

  /** Kong's rule (no Digest is fine for an empty body), plus: a Digest that is checked must be signed. */
  private checkDigest(req: FilterRequest, signed: ReadonlySet<string>, who: string): AuthFailed | undefined {
    const digest = headerValue(req, "digest");
    const body = req.body;
    if (body === undefined && announcesBody(req)) {
      return this.fail("hmac_bad_digest", "the request body was not available to check against the Digest header", who);
    }
    const actual = body ?? Buffer.alloc(0);
    if (digest === undefined) {
      return actual.length === 0 ? undefined : this.fail("hmac_bad_digest", "a Digest header is required for a request with a body", who);
    }
    if (!signed.has("digest")) return this.fail("hmac_bad_digest", "the Digest header must be covered by the signature", who);
    if (digest !== bodyDigest(actual)) return this.fail("hmac_bad_digest", "the Digest header does not match the body (expected SHA-256=<base64>)", who);
    return undefined;
  }

  private fail(code: string, reason: string, principal?: string): AuthFailed {
    return { kind: "fail", status: 401, code, reason, challenge: this.challenge, ...(principal === undefined ? {} : { principal }) };
  }
}

/** The request says it has a body (so an absent FilterRequest.body means it was not buffered). */
function announcesBody(req: FilterRequest): boolean {
  const len = req.headers["content-length"];
  return (len !== undefined && len !== "0") || req.headers["transfer-encoding"] !== undefined;
}

export const hmacProvider: ProviderFactory<HmacConfig> = {
  type: "hmac",
  schema: hmacConfigSchema,
  create: (name, config, deps) => new HmacProvider(name, config, deps),
};
