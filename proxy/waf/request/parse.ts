/**
 * Takes a request apart into the collections the WAF rules target (see
 * COLLECTIONS in ../types.ts). Never throws; everything is linear in the
 * input and bounded by the inspection limits, which the result reports as
 * `exceeded` when passed.
 */
import type { Arg, InspectionLimits, ParsedRequest, WafInput } from "../types.js";
import { DEFAULT_LIMITS } from "../types.js";
import { mediaType, parseBody, processorFor } from "./body.js";
import { CollectionMap } from "./collection-map.js";
import { Collector, scalar } from "./collector.js";
import { collectHeaders } from "./headers.js";
import { urlSite } from "./site.js";
import { parseUrlencoded } from "./urlencoded.js";
import { splitUri } from "./uri.js";

/** Collections worked out from others, made only when some rule asks for them (they cost a pass over the values). */
export interface Derived {
  /** args_url_site (site.ts). */
  readonly urlSites: boolean;
}

export const ALL_DERIVED: Derived = { urlSites: true };

export function parseRequest(input: WafInput, limits: InspectionLimits = DEFAULT_LIMITS, derived: Derived = ALL_DERIVED): ParsedRequest {
  const c = new Collector(limits);
  const m = new CollectionMap();
  const uri = input.uri;
  m.set("method", scalar("method", input.method));
  m.set("protocol", scalar("protocol", input.protocol));
  m.set("uri", scalar("uri", uri));
  const u = splitUri(uri);
  m.set("path", scalar("path", u.path));
  m.set("basename", scalar("basename", u.basename));
  if (u.query !== undefined) {
    m.set("query", scalar("query", u.query));
    parseUrlencoded(uri, u.queryStart, uri.length, c, false);
  }
  const contentType = collectHeaders(input.headers, c, m);
  const mt = contentType === undefined ? "" : mediaType(contentType);
  if (contentType !== undefined) m.set("content_type", scalar("content_type", mt));

  const body = input.body;
  const size = body === undefined ? 0 : body.length;
  m.set("body_size", scalar("body_size", String(size)));
  if (body !== undefined && size > 0) {
    const truncated = size > c.maxBody;
    if (truncated) c.exceed("body_bytes");
    // latin1 keeps one character per byte, so every offset and length below is in bytes.
    const text = body.toString("latin1", 0, truncated ? c.maxBody : size);
    if (text.length > 0) m.set("body", scalar("body", text));
    const processor = processorFor(mt);
    m.set("body_processor", scalar("body_processor", processor));
    if (text.length > 0) parseBody(processor, text, contentType ?? "", c, truncated);
  }
  c.finish(m);
  if (derived.urlSites) urlSites(m, c.host);
  return { collections: m, exceeded: c.exceeded };
}

/** args_url_site: "same" or "cross" for each args and xml value that is an absolute URL. */
function urlSites(m: CollectionMap, host: string | undefined): void {
  let out: Arg[] | undefined;
  for (const col of ["args", "xml"] as const) {
    const list = m.get(col);
    if (list === undefined) continue;
    for (let i = 0; i < list.length; i++) {
      const a = list[i]!;
      const site = urlSite(host, a.value);
      if (site !== undefined) (out ??= []).push({ name: a.name, value: site });
    }
  }
  if (out !== undefined) m.set("args_url_site", out);
}
