/**
 * The four requests waf-speed times, in every form it needs them: wrk
 * arguments (headers, a Lua script for the POSTs), raw bytes for the checks
 * before timing, and the WafInput the proxy hands the WAF for the in-process
 * timing. Every form carries the same headers, so the WAF inspects the same
 * thing whichever way it is reached. The requests are what a browser or an
 * API client sends to a shop: a few ordinary headers, no attack.
 */
import type { WafInput } from "../proxy/waf/types.js";

export type Kind = "get" | "query" | "form" | "json";
export const KINDS: readonly Kind[] = ["get", "query", "form", "json"];

export const KIND_LABEL: Record<Kind, string> = {
  get: "plain GET /",
  query: "GET with query arguments",
  form: "form POST (urlencoded, 7 fields)",
  json: "4 KiB JSON POST",
};

/** Host name sent by every client (a name, not an IP: CRS flags a numeric Host at PL1). */
export const HOST = "shop.example";

/** Headers every request carries (besides Host, Content-Type, Content-Length), as a browser sends them. */
export const BASE_HEADERS: readonly (readonly [string, string])[] = [
  ["User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"],
  ["Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"],
  ["Accept-Language", "en-US,en;q=0.5"],
  ["Accept-Encoding", "gzip, deflate"],
];

const FORM = new URLSearchParams([
  ["first_name", "Jane"],
  ["last_name", "Doe"],
  ["email", "jane.doe@example.com"],
  ["phone", "+1-555-0100"],
  ["street", "12 Main Street"],
  ["postcode", "12345"],
  ["newsletter", "on"],
]).toString();

export const JSON_BYTES = 4096;

/**
 * A nested order as a shop's API takes it, exactly JSON_BYTES long. With
 * `tag`, every string value ends with it and the order holds as many line
 * items as then fit, so the tagged body is JSON_BYTES long too.
 */
export function jsonOrder(tag = ""): string {
  const address = { line1: "12 Main Street", line2: "Apartment 4B", city: "Springfield", region: "IL", postal_code: "62701", country: "US" };
  const order: Record<string, unknown> = {
    order_id: "ord_2024_000123",
    created_at: "2024-05-14T09:21:33Z",
    currency: "EUR",
    customer: { id: 48213, name: "Jane Doe", email: "jane.doe@example.com", phone: "+1-555-0100", loyalty: { tier: "gold", points: 12840, member_since: "2019-03-02" } },
    shipping_address: address,
    billing_address: { ...address, line2: "" },
    items: [] as unknown[],
    payment: { method: "card", brand: "visa", last4: "4242", expires: "09/27", token: "tok_1PzQ8mE3vX9aB7cD" },
    shipping: { carrier: "dhl", service: "express", price: 7.5, estimated_days: 2 },
    notes: "Please leave the parcel with the neighbour if nobody is at home.",
    metadata: { source: "web", campaign: "spring-sale", device: "desktop", locale: "en-US" },
  };
  const colours = ["blue", "black", "red", "green", "white", "grey"];
  const products = ["Running shoes", "Trail socks", "Rain jacket", "Water bottle", "Sport cap", "Day pack", "Fleece gloves", "Wool scarf"];
  const items = order.items as unknown[];
  for (let i = 0; ; i++) {
    const item = {
      sku: `SKU-${10001 + i * 37}`,
      name: `${products[i % products.length]}, ${colours[i % colours.length]}`,
      quantity: 1 + (i % 3),
      unit_price: Math.round((19.9 + i * 7.35) * 100) / 100,
      options: { size: String(38 + (i % 8)), colour: colours[i % colours.length] },
      tags: ["sport", i % 2 === 0 ? "outdoor" : "sale"],
    };
    items.push(item);
    if (size(order) > JSON_BYTES - 40) {
      items.pop();
      break;
    }
  }
  // pad a gift message to hit the size exactly
  order.gift_message = "";
  const short = JSON_BYTES - size(order);
  const words = "Happy birthday and many happy returns of the day from all of us ";
  order.gift_message = words.repeat(Math.ceil(short / words.length) + 1).slice(0, Math.max(0, short));
  return JSON.stringify(tag === "" ? order : tagLeaves(order, tag));

  function size(o: unknown): number {
    return JSON.stringify(tag === "" ? o : tagLeaves(o, tag)).length;
  }
}

export interface RequestSpec {
  method: "GET" | "POST";
  path: string;
  contentType?: string;
  body?: Buffer;
}

let json: Buffer | undefined;

export function requestSpec(kind: Kind): RequestSpec {
  switch (kind) {
    case "get":
      return { method: "GET", path: "/" };
    case "query":
      return { method: "GET", path: "/search?q=blue+shoes&page=2&sort=price&lang=en" };
    case "form":
      return { method: "POST", path: "/account/profile", contentType: "application/x-www-form-urlencoded", body: Buffer.from(FORM) };
    case "json":
      return { method: "POST", path: "/api/orders", contentType: "application/json", body: (json ??= Buffer.from(jsonOrder())) };
  }
}

/** Header lines in the order wrk sends them (Host first, Content-Length last). */
function headerList(spec: RequestSpec): [string, string][] {
  const h: [string, string][] = [["Host", HOST], ...BASE_HEADERS.map(([k, v]): [string, string] => [k, v])];
  if (spec.contentType) h.push(["Content-Type", spec.contentType]);
  if (spec.body) h.push(["Content-Length", String(spec.body.length)]);
  return h;
}

/** The request as bytes on the wire (keep-alive, as wrk sends it). */
export function rawRequest(kind: Kind, path?: string): Buffer {
  const spec = requestSpec(kind);
  const head = `${spec.method} ${path ?? spec.path} HTTP/1.1\r\n${headerList(spec)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("")}\r\n`;
  return spec.body ? Buffer.concat([Buffer.from(head, "latin1"), spec.body]) : Buffer.from(head, "latin1");
}

/** What the proxy's waf filter builds from this request (raw target, header names lower-case, in order). */
export function wafInput(kind: Kind, path?: string): WafInput {
  const spec = requestSpec(kind);
  return {
    method: spec.method,
    uri: path ?? spec.path,
    protocol: "HTTP/1.1",
    headers: headerList(spec).map(([k, v]) => [k.toLowerCase(), v] as const),
    ...(spec.body ? { body: spec.body } : {}),
  };
}

/** Appends `tag` to every string leaf of a JSON value (keys unchanged). */
function tagLeaves(v: unknown, tag: string): unknown {
  if (typeof v === "string") return v + tag;
  if (Array.isArray(v)) return v.map((x) => tagLeaves(x, tag));
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, tagLeaves(x, tag)]));
  return v;
}

const tagPairs = (qs: string, tag: string): string => new URLSearchParams([...new URLSearchParams(qs)].map(([k, v]): [string, string] => [k, v + tag])).toString();

/** Fresh JSON values end with "-" and this many base-36 digits: one width for every call, so every fresh body has one size. */
const JSON_TAG_DIGITS = 4;
/** Stands for the digits in the fresh JSON template (the order has no "~"). */
const JSON_TAG_MARK = `-${"~".repeat(JSON_TAG_DIGITS)}`;
let jsonTemplate: string[] | undefined;

/** The JSON order with every string value ending in `n`'s tag, JSON_BYTES long like the order sent again and again. */
export function freshJson(n: number): Buffer {
  jsonTemplate ??= jsonOrder(JSON_TAG_MARK).split(JSON_TAG_MARK);
  // 36^4 = 1.7 million distinct tags: far more calls than a run makes, and the engine's memory holds far fewer values
  const digits = (n % 36 ** JSON_TAG_DIGITS).toString(36).padStart(JSON_TAG_DIGITS, "0");
  return Buffer.from(jsonTemplate.join(`-${digits}`));
}

/**
 * The same request with every query, form and JSON string value made unique
 * by `n` (names and headers unchanged): what a proxy sees from many users of
 * one client, where the headers and field names repeat and the values do not.
 * The JSON body stays JSON_BYTES long (freshJson); the query and form grow by
 * their suffixes.
 */
export function freshInput(kind: Kind, n: number): WafInput {
  const base = wafInput(kind);
  const tag = `-${n.toString(36)}`;
  const q = base.uri.indexOf("?");
  const uri = q < 0 ? base.uri : `${base.uri.slice(0, q)}?${tagPairs(base.uri.slice(q + 1), tag)}`;
  let body = base.body;
  if (kind === "form" && body) body = Buffer.from(tagPairs(body.toString("latin1"), tag), "latin1");
  if (kind === "json" && body) body = freshJson(n);
  return { ...base, uri, ...(body ? withBody(base, body) : {}) };
}

/** The body and the headers with its Content-Length. */
function withBody(base: WafInput, body: Buffer): Pick<WafInput, "headers" | "body"> {
  return { headers: base.headers.map(([k, v]) => (k === "content-length" ? ([k, String(body.length)] as const) : ([k, v] as const))), body };
}

/**
 * For scale: the JSON request as fresh values were made before, a suffix
 * appended to every string value of the 21-item order, which grows the body
 * to 4.7-4.9 KB (the suffix is 2-5 characters; 5 from call 46,656 on).
 */
export function grownJsonInput(n: number): WafInput {
  const base = wafInput("json");
  return { ...base, ...withBody(base, Buffer.from(JSON.stringify(tagLeaves(JSON.parse(base.body!.toString("utf8")), `-${n.toString(36)}`)))) };
}

/** Line items in the order sent again and again and in the fresh one (fewer fit beside the suffixes). */
export function jsonItemCounts(): { same: number; fresh: number } {
  const items = (b: Buffer): number => (JSON.parse(b.toString("utf8")) as { items: unknown[] }).items.length;
  return { same: items(requestSpec("json").body!), fresh: items(freshJson(0)) };
}

/** wrk's -H headers: everything but Content-Length (wrk adds it for a body) and Content-Type (set by the script). */
export function wrkHeaders(): Record<string, string> {
  return Object.fromEntries([["Host", HOST], ...BASE_HEADERS]);
}

/** A Lua long bracket that does not occur in `text`. */
function longString(text: string): string {
  let eq = "";
  while (text.includes(`]${eq}]`)) eq += "=";
  return `[${eq}[${text}]${eq}]`;
}

/** wrk script for a POST kind (undefined for the GETs, which need none). */
export function wrkScript(kind: Kind): string | undefined {
  const spec = requestSpec(kind);
  if (spec.method !== "POST" || !spec.body || !spec.contentType) return undefined;
  // a newline right after an opening long bracket is dropped by Lua: the body starts with "{" or a letter
  return `-- waf-speed: ${KIND_LABEL[kind]}
wrk.method = "POST"
wrk.path = "${spec.path}"
wrk.headers["Content-Type"] = "${spec.contentType}"
wrk.body = ${longString(spec.body.toString("latin1"))}
`;
}

/** An obvious attack for the checks before timing: every WAF under test must refuse it with 403. */
export const ATTACK_PATH = "/search?q=1%27%20UNION%20SELECT%20password%20FROM%20users--";
