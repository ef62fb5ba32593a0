/**
 * Request headers and cookies. Cookies come from every Cookie header, split
 * on ";" and trimmed; values are kept as sent (not decoded), like
 * ModSecurity's REQUEST_COOKIES.
 */
import type { Arg } from "../types.js";
import type { CollectionMap } from "./collection-map.js";
import type { Collector } from "./collector.js";
import { refererSite } from "./site.js";
import { isOws } from "./text.js";

/** Fills headers, cookies and referer_site, and the collector's host; returns the first Content-Type header's value, as sent (no object per request). */
export function collectHeaders(
  headers: readonly (readonly [string, string])[],
  c: Collector,
  m: CollectionMap,
): string | undefined {
  const list: Arg[] = [];
  const names: Arg[] = [];
  // most requests carry no cookie: these are made for the first one
  let cookies: Arg[] | undefined;
  let cookieNames: Arg[] | undefined;
  let contentType: string | undefined;
  let host: string | undefined;
  let referer: string | undefined;
  const n = headers.length;
  for (let i = 0; i < n; i++) {
    const h = headers[i]!;
    let name = h[0];
    const value = h[1];
    // The contract says lower-case already; a caller that forgot must not let "Cookie" slip past the rules.
    if (hasUpper(name)) name = name.toLowerCase();
    if (list.length < c.maxArgs) {
      const cn = c.cut(name);
      list.push({ name: cn, value: c.cut(value) });
      names.push({ name: cn, value: cn });
    } else {
      c.exceed("args");
    }
    if (name === "cookie") parseCookies(value, c, (cookies ??= []), (cookieNames ??= []));
    else if (name === "content-type" && contentType === undefined) contentType = value;
    else if (name === "host" && host === undefined) host = value;
    else if (name === "referer" && referer === undefined) referer = value;
  }
  c.host = host;
  const site = refererSite(host, referer);
  if (site !== undefined) m.set("referer_site", [{ name: "referer_site", value: site }]);
  if (list.length > 0) {
    m.set("headers", list);
    m.set("headers_names", names);
  }
  if (cookies !== undefined && cookies.length > 0) {
    m.set("cookies", cookies);
    m.set("cookies_names", cookieNames!);
  }
  return contentType;
}

function hasUpper(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    if (ch >= 65 && ch <= 90) return true;
  }
  return false;
}

/** "a=1; b=2" → cookies a and b; a piece without "=" is a cookie with an empty value. */
export function parseCookies(v: string, c: Collector, cookies: Arg[], names: Arg[]): void {
  let i = 0;
  const end = v.length;
  // Next "=" at or after the current piece, reused across pieces so "a;a;a;…" stays linear.
  let eq = v.indexOf("=");
  while (i < end) {
    let semi = v.indexOf(";", i);
    if (semi === -1) semi = end;
    let s = i;
    let e = semi;
    while (s < e && isOws(v.charCodeAt(s))) s++;
    while (e > s && isOws(v.charCodeAt(e - 1))) e--;
    if (e > s) {
      if (cookies.length >= c.maxArgs) {
        c.exceed("args");
        return;
      }
      if (eq !== -1 && eq < s) eq = v.indexOf("=", s);
      let name: string;
      let value: string;
      if (eq !== -1 && eq < e) {
        let ne = eq;
        while (ne > s && isOws(v.charCodeAt(ne - 1))) ne--;
        let vs = eq + 1;
        while (vs < e && isOws(v.charCodeAt(vs))) vs++;
        name = c.cut(v.slice(s, ne));
        value = c.cut(v.slice(vs, e));
      } else {
        name = c.cut(v.slice(s, e));
        value = "";
      }
      cookies.push({ name, value });
      names.push({ name, value: name });
    }
    i = semi + 1;
  }
}
