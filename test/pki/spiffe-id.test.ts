import test, { type ExecutionContext } from "ava";
import { PkiError } from "../../pki/errors.js";
import {
  isValidSpiffeId,
  memberOf,
  nodeSpiffeId,
  parseSpiffeId,
  sameSpiffeId,
  trustDomainId,
  validateTrustDomain,
  workloadSpiffeId,
} from "../../pki/spiffe-id.js";

function rejects(t: ExecutionContext, fn: () => unknown, reason: RegExp): void {
  const err = t.throws(fn, { instanceOf: PkiError });
  t.is(err?.code, "invalid_spiffe_id");
  t.regex(err?.message ?? "", reason);
}

test("accepts well-formed IDs and splits trust domain and path", (t) => {
  const id = parseSpiffeId("spiffe://example.org/ns/default/sa/web");
  t.is(id.trustDomain, "example.org");
  t.is(id.path, "/ns/default/sa/web");
  t.is(id.toString(), "spiffe://example.org/ns/default/sa/web");
  t.is(`${id}`, "spiffe://example.org/ns/default/sa/web");
  t.is(JSON.stringify({ id }), '{"id":"spiffe://example.org/ns/default/sa/web"}');
  t.true(Object.isFrozen(id));

  const root = parseSpiffeId("spiffe://example.org");
  t.is(root.path, "");
  t.is(root.toString(), "spiffe://example.org");

  for (const ok of [
    "spiffe://a",
    "spiffe://td-1.example_2.org/x",
    "spiffe://example.org/Mixed.Case-Path_9",
    "spiffe://example.org/a..b/...",
    "spiffe://example.org/.hidden/x.",
    "spiffe://1.2.3.4/ip-like",
  ]) {
    t.true(isValidSpiffeId(ok), ok);
    t.is(parseSpiffeId(ok).toString(), ok, "round trips exactly, nothing normalised");
  }
});

test("scheme must be exactly 'spiffe://'", (t) => {
  rejects(t, () => parseSpiffeId("https://example.org/x"), /^scheme must be 'spiffe'$/);
  rejects(t, () => parseSpiffeId("SPIFFE://example.org/x"), /scheme must be 'spiffe' \(lowercase\)/);
  rejects(t, () => parseSpiffeId("Spiffe://example.org/x"), /scheme must be 'spiffe' \(lowercase\)/);
  rejects(t, () => parseSpiffeId("example.org/x"), /scheme must be 'spiffe'/);
  rejects(t, () => parseSpiffeId("spiffe:example.org/x"), /must be followed by '\/\/'/);
  rejects(t, () => parseSpiffeId("spiffe:/example.org/x"), /must be followed by '\/\/'/);
  rejects(t, () => parseSpiffeId(""), /empty/);
  rejects(t, () => parseSpiffeId(42 as unknown as string), /must be a string/);
});

test("trust domain: non-empty, lowercase, [a-z0-9.-_], no port or userinfo", (t) => {
  rejects(t, () => parseSpiffeId("spiffe://"), /^trust domain is empty$/);
  rejects(t, () => parseSpiffeId("spiffe:///path"), /^trust domain is empty$/);
  rejects(t, () => parseSpiffeId("spiffe://Example.org/x"), /^trust domain contains an uppercase letter$/);
  rejects(t, () => parseSpiffeId("spiffe://example.org:8080/x"), /^port is not allowed$/);
  rejects(t, () => parseSpiffeId("spiffe://example.org:/x"), /^port is not allowed$/);
  rejects(t, () => parseSpiffeId("spiffe://user@example.org/x"), /^userinfo is not allowed$/);
  rejects(t, () => parseSpiffeId("spiffe://user:pw@example.org/x"), /^userinfo is not allowed$/);
  rejects(t, () => parseSpiffeId("spiffe://exa mple.org/x"), /^trust domain has a character outside \[a-z0-9.-_\]: U\+0020$/);
  rejects(t, () => parseSpiffeId("spiffe://exam*ple.org"), /trust domain has a character outside \[a-z0-9.-_\]: '\*'/);
  rejects(t, () => parseSpiffeId("spiffe://exämple.org"), /trust domain has a character outside/);
  rejects(t, () => parseSpiffeId("spiffe://[::1]/x"), /port is not allowed/);
});

test("path: no empty segments, no dot segments, no trailing slash, restricted characters", (t) => {
  rejects(t, () => parseSpiffeId("spiffe://example.org/"), /^trailing '\/' is not allowed$/);
  rejects(t, () => parseSpiffeId("spiffe://example.org/a/"), /^trailing '\/' is not allowed$/);
  rejects(t, () => parseSpiffeId("spiffe://example.org//a"), /^path has an empty segment$/);
  rejects(t, () => parseSpiffeId("spiffe://example.org/a//b"), /^path has an empty segment$/);
  rejects(t, () => parseSpiffeId("spiffe://example.org/a/./b"), /^path segment '\.' is not allowed$/);
  rejects(t, () => parseSpiffeId("spiffe://example.org/."), /^path segment '\.' is not allowed$/);
  rejects(t, () => parseSpiffeId("spiffe://example.org/a/../b"), /^path segment '\.\.' is not allowed$/);
  rejects(t, () => parseSpiffeId("spiffe://example.org/.."), /^path segment '\.\.' is not allowed$/);
  rejects(t, () => parseSpiffeId("spiffe://example.org/a b"), /^path segment has a character outside \[a-zA-Z0-9.-_\]: U\+0020$/);
  rejects(t, () => parseSpiffeId("spiffe://example.org/a:b"), /path segment has a character outside \[a-zA-Z0-9.-_\]: ':'/);
  rejects(t, () => parseSpiffeId("spiffe://example.org/café"), /path segment has a character outside/);
  rejects(t, () => parseSpiffeId("spiffe://example.org/a\nb"), /U\+000A/);
  rejects(t, () => parseSpiffeId("spiffe://example.org/a\\b"), /outside \[a-zA-Z0-9.-_\]: '\\'/);
});

test("no query, fragment or percent-encoding anywhere", (t) => {
  rejects(t, () => parseSpiffeId("spiffe://example.org/a?x=1"), /^query is not allowed$/);
  rejects(t, () => parseSpiffeId("spiffe://example.org?x"), /^query is not allowed$/);
  rejects(t, () => parseSpiffeId("spiffe://example.org/a?x#y"), /^query is not allowed$/);
  rejects(t, () => parseSpiffeId("spiffe://example.org/a#frag"), /^fragment not allowed$/);
  rejects(t, () => parseSpiffeId("spiffe://example.org/a#frag?x"), /^fragment not allowed$/);
  rejects(t, () => parseSpiffeId("spiffe://example.org/a%2Fb"), /^percent-encoding is not allowed$/);
  rejects(t, () => parseSpiffeId("spiffe://example.org/%2e%2e"), /^percent-encoding is not allowed$/);
  rejects(t, () => parseSpiffeId("spiffe://ex%41mple.org/a"), /^percent-encoding is not allowed$/);
});

test("whole ID is limited to 2048 bytes, exactly at the boundary", (t) => {
  const prefix = "spiffe://example.org/";
  const at = prefix + "a".repeat(2048 - prefix.length);
  t.is(Buffer.byteLength(at), 2048);
  t.is(parseSpiffeId(at).toString(), at);
  rejects(t, () => parseSpiffeId(at + "b"), /^longer than 2048 bytes$/);
  // Bytes, not characters: 2048 characters with one two-byte character is 2049 bytes.
  const multi = prefix + "a".repeat(2048 - prefix.length - 1) + "é";
  t.is(multi.length, 2048);
  rejects(t, () => parseSpiffeId(multi), /^longer than 2048 bytes$/);
});

test("trust domain is limited to 255 bytes, exactly at the boundary", (t) => {
  const td255 = "a".repeat(255);
  t.is(parseSpiffeId(`spiffe://${td255}/x`).trustDomain, td255);
  t.is(validateTrustDomain(td255), td255);
  rejects(t, () => parseSpiffeId(`spiffe://${td255}a/x`), /^trust domain longer than 255 bytes$/);
  rejects(t, () => validateTrustDomain(`${td255}a`), /^trust domain longer than 255 bytes$/);
});

test("validateTrustDomain returns a valid name and explains a bad one", (t) => {
  t.is(validateTrustDomain("prod.example.org"), "prod.example.org");
  t.is(validateTrustDomain("a_b-c.1"), "a_b-c.1");
  rejects(t, () => validateTrustDomain(""), /^trust domain is empty$/);
  rejects(t, () => validateTrustDomain("Prod"), /uppercase/);
  rejects(t, () => validateTrustDomain("example.org:443"), /port is not allowed/);
  rejects(t, () => validateTrustDomain("me@example.org"), /userinfo is not allowed/);
  rejects(t, () => validateTrustDomain("example.org/x"), /character outside \[a-z0-9.-_\]: '\/'/);
  rejects(t, () => validateTrustDomain("spiffe://example.org"), /port is not allowed/);
  rejects(t, () => validateTrustDomain(undefined as unknown as string), /must be a string/);
});

test("workloadSpiffeId and nodeSpiffeId build the conventional paths", (t) => {
  const w = workloadSpiffeId("example.org", "payments", "api-server");
  t.is(w.toString(), "spiffe://example.org/ns/payments/sa/api-server");
  t.is(w.trustDomain, "example.org");
  t.is(w.path, "/ns/payments/sa/api-server");
  t.is(nodeSpiffeId("example.org", "node-1.zone_a").toString(), "spiffe://example.org/mesh/node/node-1.zone_a");
});

test("workloadSpiffeId and nodeSpiffeId refuse names that would break the path", (t) => {
  rejects(t, () => workloadSpiffeId("example.org", "a/b", "sa"), /^namespace has a character outside/);
  rejects(t, () => workloadSpiffeId("example.org", "ns", ".."), /^service account '\.\.' is not allowed$/);
  rejects(t, () => workloadSpiffeId("example.org", "", "sa"), /^namespace is empty$/);
  rejects(t, () => workloadSpiffeId("example.org", "ns", "a?b"), /^service account has a character outside/);
  rejects(t, () => workloadSpiffeId("Example.org", "ns", "sa"), /uppercase/);
  rejects(t, () => nodeSpiffeId("example.org", "n%41"), /^node name has a character outside/);
  rejects(t, () => nodeSpiffeId("example.org", "."), /^node name '\.' is not allowed$/);
  rejects(t, () => workloadSpiffeId("example.org", "ns", "s".repeat(2048)), /^longer than 2048 bytes$/);
});

test("memberOf, trustDomainId and sameSpiffeId compare exactly", (t) => {
  const id = parseSpiffeId("spiffe://example.org/ns/a/sa/b");
  t.true(memberOf(id, "example.org"));
  t.false(memberOf(id, "example.com"));
  t.false(memberOf(id, "Example.org"));
  t.false(memberOf(id, "example.org."));
  const td = trustDomainId("example.org");
  t.is(td.toString(), "spiffe://example.org");
  t.true(sameSpiffeId(id, parseSpiffeId("spiffe://example.org/ns/a/sa/b")));
  t.false(sameSpiffeId(id, parseSpiffeId("spiffe://example.org/ns/a/sa/B")));
  rejects(t, () => trustDomainId("BAD"), /uppercase/);
});
