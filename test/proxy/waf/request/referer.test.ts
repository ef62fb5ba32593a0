import test from "ava";
import { parseRequest } from "../../../../proxy/waf/request/parse.js";
import { refererSite } from "../../../../proxy/waf/request/referer.js";

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
