/**
 * The `api_key` provider: Kong key-auth. A key is looked for in the headers
 * and query parameters named by key_names; exactly one may be present (a key
 * in a header and the query, twice in the query, in two key_names, or in a
 * repeated header is refused as ambiguous: which one would upstream see?).
 *
 * Lookup hashes the presented key with SHA-256 and looks the hex digest up
 * in a Map. The Map's string comparison is not constant-time, but what it
 * compares is a digest: timing can at most tell an attacker how much of
 * *their own key's digest* matches a stored digest, and turning that into a
 * key would need SHA-256 preimages. Nothing about a stored key leaks, and
 * the keys file holds no usable key either.
 */
import { z } from "zod";
import { ProxyError } from "../errors.js";
import type { FilterRequest } from "../filters/types.js";
import { API_KEY_FILE_LIMITS, loadApiKeys, sha256Hex, type ApiKeyTable } from "./api-key-file.js";
import { CredentialFile, resolveFrom, type CredentialFileStatus } from "./consumers.js";
import type { AuthFailed, AuthOutcome, AuthProvider, ProviderDeps, ProviderFactory } from "./types.js";

/** A header field name (token); also used as the query parameter name. */
const KEY_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/;

export const apiKeyConfigSchema = z
  .strictObject({
    /** YAML/JSON list of { consumer, key_sha256 }, relative to the config's folder. */
    keys_file: z.string().min(1).max(4096),
    key_names: z
      .array(z.string().regex(KEY_NAME, "a key name is a header-name token such as apikey or x-api-key"))
      .min(1)
      .max(16)
      .refine((a) => new Set(a.map((n) => n.toLowerCase())).size === a.length, "a key name is listed twice")
      .default(["apikey"]),
    key_in_header: z.boolean().default(true),
    key_in_query: z.boolean().default(true),
    hide_credentials: z.boolean().default(true),
  })
  .refine((c) => c.key_in_header || c.key_in_query, { message: "key_in_header and key_in_query cannot both be false" });

export type ApiKeyConfig = z.output<typeof apiKeyConfigSchema>;
export type ApiKeyConfigInput = z.input<typeof apiKeyConfigSchema>;

/**
 * The value to put in a keys file's key_sha256 for a key. Throws for a key
 * that could not be presented unambiguously: empty, too long, or holding a
 * comma, whitespace or a control character (Node joins repeated headers with
 * ", ", so a comma in a header value reads as a repeated key).
 */
export function hashApiKey(key: string): string {
  if (key.length === 0 || key.length > API_KEY_FILE_LIMITS.keyLength) {
    throw new RangeError(`an API key has 1 to ${API_KEY_FILE_LIMITS.keyLength} characters`);
  }
  if (!/^[\x21-\x2b\x2d-\x7e]+$/.test(key)) throw new RangeError("an API key is printable ASCII without commas or spaces");
  return sha256Hex(key);
}

interface Found {
  readonly where: "header" | "query";
  readonly name: string;
  readonly value: string;
}

function decodeQueryPart(s: string): string | undefined {
  try {
    return decodeURIComponent(s.replace(/\+/g, " "));
  } catch {
    return undefined;
  }
}

export class ApiKeyProvider implements AuthProvider {
  readonly type = "api_key";
  readonly needsBody = false;
  private readonly keys: CredentialFile<ApiKeyTable>;
  private readonly headerNames: readonly string[];
  private readonly queryNames: ReadonlySet<string>;
  private readonly challenge: string;
  get missingChallenge(): string {
    return this.challenge;
  }

  constructor(
    readonly name: string,
    private readonly config: ApiKeyConfig,
    deps: ProviderDeps,
  ) {
    this.headerNames = config.key_in_header ? config.key_names.map((n) => n.toLowerCase()) : [];
    // Query parameter names match exactly, as in Kong.
    this.queryNames = new Set(config.key_in_query ? config.key_names : []);
    this.challenge = `Key realm="${name.replace(/[\\"]/g, "\\$&")}"`;
    const path = resolveFrom(deps.baseDir, config.keys_file);
    try {
      this.keys = new CredentialFile(path, loadApiKeys, deps.clock().getTime());
    } catch (err) {
      if (err instanceof ProxyError) throw new ProxyError(err.code, `api_key provider "${name}": ${err.message}`, { cause: err });
      throw err;
    }
  }

  /** The keys file: entries, last reload error, permission warnings. */
  status(): CredentialFileStatus {
    return this.keys.status();
  }

  authenticate(req: FilterRequest, now: Date): AuthOutcome {
    const found = this.find(req);
    if (found === "ambiguous") return this.fail("api_key_ambiguous", "an API key was given more than once (in several headers, query parameters, or both)");
    if (found.length === 0) return { kind: "missing" };
    if (found.length > 1) {
      const places = found.map((f) => `${f.where} ${f.name}`).join(", ");
      return this.fail("api_key_ambiguous", `an API key was given more than once (${places})`);
    }
    const key = found[0]!;
    // An empty value is no credential (Kong: "No API key found").
    if (key.value === "") return { kind: "missing" };
    const consumer = key.value.length <= API_KEY_FILE_LIMITS.keyLength ? this.keys.current(now.getTime()).get(sha256Hex(key.value)) : undefined;
    if (consumer === undefined) return this.fail("api_key_invalid", `the API key in ${key.where} ${key.name} is not valid`);
    const strip = this.config.hide_credentials
      ? key.where === "header"
        ? { stripHeaders: [key.name] }
        : { stripQuery: [key.name] }
      : {};
    return { kind: "ok", principal: consumer, consumer, method: "api_token", ...strip };
  }

  close(): void {
    // Nothing to stop: the keys file is re-checked on requests, not by a timer.
  }

  /** Every place a key is given, or "ambiguous" when a header value holds several. */
  private find(req: FilterRequest): Found[] | "ambiguous" {
    const out: Found[] = [];
    for (const name of this.headerNames) {
      const v = req.headers[name];
      if (v === undefined) continue;
      // Node joins a repeated header with ", " (or gives an array): either way, more than one key.
      if (Array.isArray(v) || v.includes(",")) return "ambiguous";
      out.push({ where: "header", name, value: v });
    }
    if (this.queryNames.size > 0 && req.query !== "") {
      for (const pair of req.query.split("&")) {
        const eq = pair.indexOf("=");
        const rawName = eq < 0 ? pair : pair.slice(0, eq);
        const name = decodeQueryPart(rawName) ?? rawName;
        if (!this.queryNames.has(name)) continue;
        // A value that is not valid percent-encoding is taken as written.
        const raw = eq < 0 ? "" : pair.slice(eq + 1);
        out.push({ where: "query", name, value: decodeQueryPart(raw) ?? raw });
      }
    }
    return out;
  }

  private fail(code: string, reason: string): AuthFailed {
    return { kind: "fail", status: 401, code, reason, challenge: this.challenge };
  }
}

export const apiKeyProvider: ProviderFactory<ApiKeyConfig> = {
  type: "api_key",
  schema: apiKeyConfigSchema,
  create: (name, config, deps) => new ApiKeyProvider(name, config, deps),
};
