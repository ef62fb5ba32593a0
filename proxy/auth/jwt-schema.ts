/**
 * The `jwt` provider's config block (Envoy jwt_authn / Istio
 * RequestAuthentication, snake_case). Anything that would make a token
 * forgeable or a setting meaningless is refused here with the key path: an
 * unsigned algorithm, HMAC with a remote key set, a plain-http key URL to a
 * non-loopback host, identity headers that would clobber hop-by-hop or
 * credential headers.
 */
import { z } from "zod";
import { durationMs } from "../duration.js";
import { parseJwks } from "./jwt-keys.js";

export const JWT_LIMITS = {
  /** Longest token accepted (bytes of the compact serialization). */
  tokenBytes: 8192,
  /** Largest JWKS document read from a file or a URL. */
  jwksBytes: 1024 * 1024,
  keys: 100,
  kidLength: 256,
  audiences: 64,
  sources: 8,
  claimHeaders: 32,
  requiredClaims: 32,
  requiredValues: 64,
  claimNameLength: 256,
  cacheSize: 1_000_000,
  /** At most one request-path JWKS refetch (unknown kid, no key set yet) per this window. */
  refetchWindowMs: 30_000,
  /** A failed background refresh is retried no sooner than this. */
  retryAfterFailureMs: 30_000,
  /** Stat poll of a local JWKS file (fs.watch is the fast path). */
  filePollMs: 5_000,
} as const;

/** Every JWS algorithm the provider can verify (via jose). */
export const JWS_ALGORITHMS = [
  "ES256",
  "ES384",
  "ES512",
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "EdDSA",
  "Ed25519",
  "HS256",
  "HS384",
  "HS512",
] as const;
export type JwsAlg = (typeof JWS_ALGORITHMS)[number];

export const DEFAULT_ALGORITHMS: readonly JwsAlg[] = ["ES256", "ES384", "RS256", "PS256", "EdDSA"];

export function isHmac(alg: string): boolean {
  return alg.startsWith("HS");
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/;
const headerName = z
  .string()
  .regex(HEADER_NAME, "expected an HTTP header name such as x-user-id")
  .transform((s) => s.toLowerCase());

/** Headers the provider must never set: they frame the message or carry credentials. */
const RESERVED_HEADERS = new Set([
  "host",
  "authorization",
  "proxy-authorization",
  "cookie",
  "set-cookie",
  "content-length",
  "content-type",
  "transfer-encoding",
  "connection",
  "keep-alive",
  "te",
  "trailer",
  "upgrade",
  "expect",
]);

const QUERY_OR_COOKIE_NAME = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, "expected a name of letters, digits and !#$%&'*+-.^_`|~");

const algorithm = z.enum(JWS_ALGORITHMS, {
  error: (iss) =>
    typeof iss.input === "string" && iss.input.toLowerCase() === "none"
      ? '"none" is never accepted: unsigned tokens prove nothing'
      : `unsupported algorithm; supported: ${JWS_ALGORITHMS.join(", ")}`,
});

const httpUrl = z
  .string()
  .max(2048)
  .superRefine((s, ctx) => {
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      ctx.addIssue({ code: "custom", message: "expected an absolute URL such as https://issuer.example.com/.well-known/jwks.json" });
      return;
    }
    if (u.username || u.password) ctx.addIssue({ code: "custom", message: "the URL must not carry credentials" });
    if (u.protocol === "https:") return;
    if (u.protocol === "http:" && isLoopbackHost(u.hostname)) return;
    ctx.addIssue({ code: "custom", message: "jwks_uri must be https (plain http only to a loopback host)" });
  });

export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

const requiredValue = z.union([z.string().max(1024), z.number(), z.boolean()]);

export const jwtConfigSchema = z
  .strictObject({
    issuer: z.string().min(1).max(1024),
    audiences: z.array(z.string().min(1).max(1024)).min(1, "omit audiences to accept any").max(JWT_LIMITS.audiences).optional(),
    jwks_file: z.string().min(1).max(4096).optional(),
    jwks_uri: httpUrl.optional(),
    /** An inline key set ({ keys: [...] }); checked in full at load. */
    jwks: z.record(z.string(), z.unknown()).optional(),
    jwks_cache_duration: durationMs({ min: 1000 }).default(600_000),
    jwks_fetch_timeout: durationMs({ min: 100, max: 60_000 }).default(5000),
    algorithms: z
      .array(algorithm)
      .min(1)
      .max(JWS_ALGORITHMS.length)
      .default([...DEFAULT_ALGORITHMS]),
    from_headers: z
      .array(z.strictObject({ name: headerName, value_prefix: z.string().max(64).default("") }))
      .max(JWT_LIMITS.sources)
      .default([{ name: "authorization", value_prefix: "Bearer " }]),
    from_params: z.array(QUERY_OR_COOKIE_NAME).max(JWT_LIMITS.sources).default([]),
    from_cookies: z.array(QUERY_OR_COOKIE_NAME).max(JWT_LIMITS.sources).default([]),
    clock_skew: durationMs({ min: 0, max: 600_000 }).default(60_000),
    require_exp: z.boolean().default(true),
    max_lifetime: durationMs({ min: 1000 }).optional(),
    forward: z.boolean().default(false),
    forward_payload_header: headerName.optional(),
    claim_to_headers: z
      .array(z.strictObject({ claim: z.string().min(1).max(JWT_LIMITS.claimNameLength), header: headerName }))
      .max(JWT_LIMITS.claimHeaders)
      .default([]),
    required_claims: z
      .record(z.string().min(1).max(JWT_LIMITS.claimNameLength), z.union([requiredValue, z.array(requiredValue).min(1).max(JWT_LIMITS.requiredValues)]))
      .optional(),
    cache_size: z.number().int().min(0).max(JWT_LIMITS.cacheSize).default(10_000),
  })
  .superRefine((c, ctx) => {
    const sources = [c.jwks_file, c.jwks_uri, c.jwks].filter((s) => s !== undefined).length;
    if (sources !== 1) {
      ctx.addIssue({ code: "custom", path: [], message: "set exactly one of jwks_file, jwks_uri or jwks" });
    }
    if (c.jwks !== undefined) {
      const r = parseJwks(c.jwks, { local: true });
      if (typeof r === "string") ctx.addIssue({ code: "custom", path: ["jwks"], message: r });
    }
    const hmac = c.algorithms.filter(isHmac);
    if (hmac.length > 0 && c.jwks_uri !== undefined) {
      ctx.addIssue({ code: "custom", path: ["algorithms"], message: `${hmac.join(", ")} need a local key set (jwks_file or jwks): a shared secret is never fetched` });
    }
    if (new Set(c.algorithms).size !== c.algorithms.length) {
      ctx.addIssue({ code: "custom", path: ["algorithms"], message: "an algorithm is listed twice" });
    }
    if (c.from_headers.length + c.from_params.length + c.from_cookies.length === 0) {
      ctx.addIssue({ code: "custom", path: ["from_headers"], message: "list at least one place to read the token from" });
    }
    const sourceHeaders = new Set(c.from_headers.map((h) => h.name));
    if (sourceHeaders.size !== c.from_headers.length) {
      ctx.addIssue({ code: "custom", path: ["from_headers"], message: "a header is listed twice" });
    }
    const setNames = new Set<string>();
    const checkSet = (name: string, path: (string | number)[]): void => {
      if (RESERVED_HEADERS.has(name)) ctx.addIssue({ code: "custom", path, message: `"${name}" cannot be set from a token` });
      else if (sourceHeaders.has(name)) ctx.addIssue({ code: "custom", path, message: `"${name}" is where the token is read from` });
      else if (setNames.has(name)) ctx.addIssue({ code: "custom", path, message: `"${name}" is set twice` });
      setNames.add(name);
    };
    c.claim_to_headers.forEach((m, i) => checkSet(m.header, ["claim_to_headers", i, "header"]));
    if (c.forward_payload_header) checkSet(c.forward_payload_header, ["forward_payload_header"]);
    if (c.required_claims && Object.keys(c.required_claims).length > JWT_LIMITS.requiredClaims) {
      ctx.addIssue({ code: "custom", path: ["required_claims"], message: `at most ${JWT_LIMITS.requiredClaims} required claims` });
    }
  });

export type JwtConfig = z.output<typeof jwtConfigSchema>;
export type JwtConfigInput = z.input<typeof jwtConfigSchema>;
