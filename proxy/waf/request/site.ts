/**
 * Same site or another one: rules cannot compare two values, and some
 * attacks are only attacks when they involve another site. CRS compares
 * the Referer's host with Host (a session id handed over in a link from
 * elsewhere: session fixation) and a URL parameter's host with Host (a
 * remote file include). The parser does both once per request and exposes
 * the answers as collections:
 *
 *   referer_site   one value for the Referer header (absent without one)
 *   args_url_site  one value per argument or XML value that is an absolute
 *                  URL, named like the argument (absent for other values)
 *
 *   "same"   the URL's host is the Host header's host or a subdomain of it
 *   "cross"  any other host (also none, as in file:///), an unreadable
 *            Referer, or no Host to compare with
 *
 * Linear, never throws.
 */
import { htmlEntityDecode } from "../transforms/html.js";
import { removeNulls } from "../transforms/text.js";
import { urlDecodeUni } from "../transforms/url.js";

/** Host (lower-case, without userinfo or a trailing dot) and port ("" when none is given) of a Host header or URL authority. */
function hostPortOf(authority: string): [string, string] {
  let a = authority;
  const at = a.lastIndexOf("@");
  if (at >= 0) a = a.slice(at + 1);
  let port = "";
  if (a.startsWith("[")) {
    const end = a.indexOf("]");
    if (end < 0) return [a.toLowerCase(), ""];
    if (a.charCodeAt(end + 1) === 0x3a) port = a.slice(end + 2);
    return [a.slice(0, end + 1).toLowerCase(), port];
  }
  const colon = a.indexOf(":");
  if (colon >= 0) {
    port = a.slice(colon + 1);
    a = a.slice(0, colon);
  }
  if (a.endsWith(".")) a = a.slice(0, -1);
  return [a.toLowerCase(), port];
}

/** scheme "://" authority: the authority, or undefined when the Referer is not an absolute URL. */
const ABSOLUTE = /^[a-z][a-z0-9+.-]{0,15}:\/\/([^/?#\\]*)/i;

export type Site = "same" | "cross";

/** Whether an authority names the request's host or a subdomain of it (host: the Host header as sent); ports: they must agree too. */
function siteOf(host: string | undefined, authority: string, ports: boolean): Site {
  const [own, ownPort] = host === undefined ? ["", ""] : hostPortOf(host.trim());
  if (own === "") return "cross";
  const [h, port] = hostPortOf(authority);
  if (ports && port !== ownPort) return "cross";
  return h === own || h.endsWith(`.${own}`) ? "same" : "cross";
}

export function refererSite(host: string | undefined, referer: string | undefined): Site | undefined {
  if (referer === undefined) return undefined;
  const m = ABSOLUTE.exec(referer.trim());
  return m === null ? "cross" : siteOf(host, m[1]!, false);
}

/**
 * The start of an argument value that is a URL (what RFI rule 131140 looks
 * at): after the decodings its rule would apply, up to 8 blanks, an
 * optional `url:` or `jar:`, a scheme and `//`.
 */
const URL_VALUE = /^\s{0,8}(?:(?:url|jar):)?[a-z][a-z0-9+.-]{0,15}:\/\//i;

/** "same" or "cross" for an argument value that is an absolute URL; undefined for any other value. */
export function urlSite(host: string | undefined, value: string): Site | undefined {
  let v = value;
  // encoded once more than the parser decodes ("http%3A%2F%2F...", "http&#58;//...") or split by NULs
  if (v.includes("%")) v = urlDecodeUni(v);
  if (v.includes("&")) v = htmlEntityDecode(v);
  if (v.includes("\0")) v = removeNulls(v);
  if (!v.includes("://")) return undefined;
  const m = URL_VALUE.exec(v);
  if (m === null) return undefined;
  // Up to the query or fragment, the host is taken after the last "@" even past a "/": URL parsers
  // differ there ("http://own.example%2f@evil.example/" decodes to a path with an "@" that some read as
  // userinfo), and CRS reads it the same way.
  let rest = v.slice(m[0].length);
  const end = rest.search(/[?#]/);
  if (end >= 0) rest = rest.slice(0, end);
  const at = rest.lastIndexOf("@");
  if (at >= 0) rest = rest.slice(at + 1);
  const slash = rest.search(/[/\\]/);
  // another port is another site (another server on the same host), as for CRS
  return siteOf(host, slash < 0 ? rest : rest.slice(0, slash), true);
}
