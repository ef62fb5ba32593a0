/**
 * referer_site: whether a request's Referer names the request's own host.
 * Rules cannot compare two values, and some attacks are only attacks when
 * they come from another site (a session id handed over in a link from
 * elsewhere: session fixation). CRS compares the Referer's host with Host;
 * this does the same once per request and exposes the answer as a
 * collection:
 *
 *   "same"   the Referer's host is the Host header's host or a subdomain of it
 *   "cross"  any other host, an unreadable Referer, or no Host to compare with
 *   (absent) no Referer header
 *
 * Linear, never throws.
 */

/** Host part of a Host header or URL authority, lower-case, without port, userinfo or a trailing dot. */
function hostOf(authority: string): string {
  let a = authority;
  const at = a.lastIndexOf("@");
  if (at >= 0) a = a.slice(at + 1);
  if (a.startsWith("[")) {
    const end = a.indexOf("]");
    return (end < 0 ? a : a.slice(0, end + 1)).toLowerCase();
  }
  const colon = a.indexOf(":");
  if (colon >= 0) a = a.slice(0, colon);
  if (a.endsWith(".")) a = a.slice(0, -1);
  return a.toLowerCase();
}

/** scheme "://" authority: the authority, or undefined when the Referer is not an absolute URL. */
const ABSOLUTE = /^[a-z][a-z0-9+.-]{0,15}:\/\/([^/?#\\]*)/i;

export function refererSite(host: string | undefined, referer: string | undefined): "same" | "cross" | undefined {
  if (referer === undefined) return undefined;
  if (host === undefined) return "cross";
  const h = hostOf(host.trim());
  const m = ABSOLUTE.exec(referer.trim());
  if (h === "" || m === null) return "cross";
  const r = hostOf(m[1]!);
  return r === h || r.endsWith(`.${h}`) ? "same" : "cross";
}
