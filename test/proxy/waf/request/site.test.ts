import test from "ava";
import { parseRequest } from "../../../../proxy/waf/request/parse.js";
import { refererSite, urlSite } from "../../../../proxy/waf/request/site.js";

test("same: the Host's host, with any scheme, port, path, userinfo or case", (t) => {
  t.is(refererSite("shop.example", "https://shop.example/cart"), "same");
  t.is(refererSite("shop.example:8443", "http://SHOP.example:80/a?b#c"), "same");
  t.is(refererSite("shop.example", "https://user:pw@shop.example/"), "same");
  t.is(refererSite("shop.example.", "https://shop.example/"), "same");
  t.is(refererSite("[::1]:8080", "http://[::1]/x"), "same");
});

test("same: a subdomain of the host; cross: a parent, a sibling or a look-alike", (t) => {
  t.is(refererSite("example.com", "https://www.example.com/"), "same");
  t.is(refererSite("api.example.com", "https://example.com/"), "cross");
  t.is(refererSite("api.example.com", "https://www.example.com/"), "cross");
  t.is(refererSite("localhost", "https://localhost.attackersite.com/"), "cross");
  t.is(refererSite("example.com", "https://evilexample.com/"), "cross");
  t.is(refererSite("example.com", "https://example.com@evil.example/"), "cross");
});

test("cross when nothing can be compared; absent without a Referer", (t) => {
  t.is(refererSite(undefined, "https://shop.example/"), "cross");
  t.is(refererSite("shop.example", "/relative/path"), "cross");
  t.is(refererSite("shop.example", "not a url"), "cross");
  t.is(refererSite("", "https://shop.example/"), "cross");
  t.is(refererSite("shop.example", undefined), undefined);
});

test("the parser exposes it as the referer_site collection (first Host and first Referer)", (t) => {
  const req = (headers: [string, string][]) => parseRequest({ method: "GET", uri: "/", protocol: "HTTP/1.1", headers }).collections.get("referer_site");
  t.deepEqual(req([["host", "a.example"], ["referer", "https://a.example/"]]), [{ name: "referer_site", value: "same" }]);
  t.deepEqual(req([["host", "a.example"], ["referer", "https://b.example/"], ["referer", "https://a.example/"]]), [{ name: "referer_site", value: "cross" }]);
  t.is(req([["host", "a.example"]]), undefined);
});

test("urlSite: a parameter that is an absolute URL, compared with Host by host and port", (t) => {
  t.is(urlSite("shop.example", "https://shop.example/cart"), "same");
  t.is(urlSite("shop.example", "  url:HTTP://Shop.Example./a"), "same");
  t.is(urlSite("example.com", "https://cdn.example.com/x.js"), "same");
  t.is(urlSite("[::1]:8080", "http://[::1]:8080/x"), "same");
  t.is(urlSite("[::1]:8080", "http://[::1]/x"), "cross");
  t.is(urlSite("shop.example", "https://shop.example:8443/"), "cross");
  t.is(urlSite("shop.example:8443", "https://shop.example/"), "cross");
  t.is(urlSite("shop.example", "https://evil.example/?next=https://shop.example/"), "cross");
  t.is(urlSite("shop.example", "file:///etc/passwd"), "cross");
  t.is(urlSite(undefined, "https://shop.example/"), "cross");
  // decoded as rule 131140's transformations would, and the host after the last "@" before ? or #
  t.is(urlSite("shop.example", "https%3A%2F%2Fevil.example%2F"), "cross");
  t.is(urlSite("shop.example", "https&#x3a;//evil.example/"), "cross");
  t.is(urlSite("shop.example", "h\u0000ttps://evil.example/"), "cross");
  t.is(urlSite("shop.example", "http://shop.example/:x@evil.example/"), "cross");
  t.is(urlSite("shop.example", "http://shop.example/a?u=x@evil.example"), "same");
  // not a URL: no value
  for (const v of ["shop.example/cart", "/a/b", "mailto:a@shop.example", "see http://x", "", "http:/x"]) t.is(urlSite("shop.example", v), undefined, v);
});
