/**
 * The WAF's data model, shared by the request parser, the transformations,
 * the operators and the engine. proxy/waf/ imports nothing outside itself
 * (DESIGN.md §3), so these types are the only contract with the proxy.
 */

/**
 * One named value the rules inspect: `name` is the key ("q", "json.a.b", "user-agent"), `value` the raw
 * text. A parser may hand out the same Arg in every request (the names collection entry of a JSON field
 * name, request/name-cache.ts); such an Arg is frozen, and its strings are standalone copies, so keeping
 * it holds no request's body.
 */
export interface Arg {
  readonly name: string;
  readonly value: string;
}

/**
 * Collections a rule can target (ModSecurity's variables, lower-case).
 * Scalar ones hold one Arg whose name is the collection's name.
 */
export const COLLECTIONS = [
  "method", // request method
  "protocol", // "HTTP/1.1"
  "uri", // raw request target as received (path and query, nothing decoded)
  "path", // path part of the raw URI, nothing decoded
  "basename", // last segment of the path, nothing decoded
  "query", // raw query string without "?"
  "query_args", // query parameters, names and values percent-decoded once
  "query_args_names",
  "body_args", // form fields, JSON leaves (json.a.b, json.a.0), multipart non-file fields
  "body_args_names",
  "args", // query_args + body_args
  "args_names",
  "headers", // request headers, names lower-case
  "headers_names",
  "cookies", // cookies from every Cookie header
  "cookies_names",
  "files", // multipart file names (name = field name, value = file name)
  "files_names", // multipart field names of file parts
  "multipart_headers", // every part header (name = header name lower-case, value = header value)
  "xml", // XML text nodes and attribute values (name = element path or path@attr)
  "body", // the raw inspected body (latin1 string of the bytes)
  "body_size", // number of body bytes received (string form)
  "args_combined_size", // total length of all arg names and values
  "content_type", // media type of the body, lower-case, without parameters
  "body_error", // present (one Arg, value = reason) when the body could not be parsed
  "body_processor", // "urlencoded" | "json" | "multipart" | "xml" | "none"
  "referer_site", // "same" (Referer on the Host's host or a subdomain of it) | "cross"; absent without a Referer
  "args_url_site", // per args or xml value that is an absolute URL (name = its name): "same" | "cross", like referer_site
] as const;
export type Collection = (typeof COLLECTIONS)[number];

/** A collection's position in COLLECTIONS: the engine's per-request tables are indexed by it (fewer than 32, so also a bit). */
export const COLLECTION_INDEX: ReadonlyMap<Collection, number> = new Map(COLLECTIONS.map((c, i) => [c, i]));

/** Collections that only exist after the body has been read (rules of phase "headers" may not target them). */
export const BODY_COLLECTIONS: ReadonlySet<Collection> = new Set<Collection>([
  "body_args",
  "body_args_names",
  "files",
  "files_names",
  "multipart_headers",
  "xml",
  "body",
  "body_error",
  "args_url_site",
]);

/** What the proxy hands to the WAF. */
export interface WafInput {
  readonly method: string;
  /** The request target exactly as received ("/a/b?x=1"). */
  readonly uri: string;
  readonly protocol: string;
  /** Header pairs in arrival order, names lower-case, repeated headers kept apart. */
  readonly headers: readonly (readonly [string, string])[];
  /** The body bytes (undefined when there is none or it was not read). */
  readonly body?: Buffer;
}

/** Inspection limits: past them the request is refused or inspected only in part (`on_exceed`). */
export interface InspectionLimits {
  /** Body bytes inspected (raw body and body parsers). */
  readonly bodyBytes: number;
  /** Query + body arguments kept. */
  readonly args: number;
  /** JSON / XML nesting depth. */
  readonly depth: number;
  /** Longest single name or value kept (longer ones are cut). */
  readonly valueBytes: number;
  /** Multipart parts. */
  readonly parts: number;
}

export const DEFAULT_LIMITS: InspectionLimits = {
  bodyBytes: 128 * 1024,
  args: 1000,
  depth: 32,
  valueBytes: 64 * 1024,
  parts: 100,
};

/** Which limits a request went past (empty when none). */
export type LimitExceeded = "body_bytes" | "args" | "depth" | "value_bytes" | "parts";

/** The collections of a parsed request, by name and, for the engine's loops, by number (COLLECTION_INDEX). */
export interface Collections extends ReadonlyMap<Collection, readonly Arg[]> {
  at(index: number): readonly Arg[] | undefined;
}

/** A request taken apart into collections (output of parseRequest). */
export interface ParsedRequest {
  readonly collections: Collections;
  /** Limits the request went past; the collections hold what fitted. */
  readonly exceeded: readonly LimitExceeded[];
}

/** A transformation: pure, total (never throws), linear in its input. */
export type Transform = (input: string) => string;
