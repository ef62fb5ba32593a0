import test from "ava";
import { createHash } from "node:crypto";
import {
  GENESIS_HASH,
  canonicalJson,
  computeEventHash,
  eventCanonicalJson,
  type HashedFields,
} from "../../audit/canonical.js";
import { AuditError } from "../../audit/errors.js";

const first: HashedFields = {
  seq: 1,
  ts: "2026-11-22T10:00:00.123Z",
  component: "ca",
  action: "sign",
  outcome: "success",
  actor: "spiffe://example.org/mesh/node/n1",
  subject: "spiffe://example.org/ns/default/sa/web",
  reason: "",
  detailsJson: canonicalJson({ ttl_seconds: 3600, serial: "0a1b", nested: { b: [1, true, null], a: "é\n" } }),
  prev_hash: GENESIS_HASH,
};

test("genesis hash is 64 zeros", (t) => {
  t.is(GENESIS_HASH, "0".repeat(64));
});

// Golden values computed independently with Python's json.dumps(sort_keys=True) + hashlib,
// following the recipe in canonical.ts: they pin the on-disk format forever.
test("event hash matches an independently computed golden vector", (t) => {
  t.is(
    eventCanonicalJson(first),
    '{"action":"sign","actor":"spiffe://example.org/mesh/node/n1","component":"ca",' +
      '"details":{"nested":{"a":"é\\n","b":[1,true,null]},"serial":"0a1b","ttl_seconds":3600},' +
      '"outcome":"success","prev_hash":"' +
      GENESIS_HASH +
      '","reason":"","seq":1,"subject":"spiffe://example.org/ns/default/sa/web","ts":"2026-11-22T10:00:00.123Z"}',
  );
  const h1 = computeEventHash(first);
  t.is(h1, "41e3fb0fc71b01f41b89af31795361a752975aab29ce75bc9bc60c3508d16857");
  const second = { ...first, seq: 2, prev_hash: h1, detailsJson: "{}", outcome: "deny", reason: "no entry" };
  t.is(computeEventHash(second), "12977c1d8f8500565e83b7018519234ea8feb2e6de2f8cac7ad7f7f180245e7d");
});

test("event hash is sha256 over prev_hash text then the canonical JSON", (t) => {
  const expected = createHash("sha256").update(first.prev_hash + eventCanonicalJson(first), "utf8").digest("hex");
  t.is(computeEventHash(first), expected);
  t.regex(expected, /^[0-9a-f]{64}$/);
  // Every field is covered.
  for (const key of ["ts", "component", "action", "outcome", "actor", "subject", "reason"] as const) {
    t.not(computeEventHash({ ...first, [key]: first[key] + "x" }), expected, key);
  }
  t.not(computeEventHash({ ...first, seq: 2 }), expected);
  t.not(computeEventHash({ ...first, detailsJson: "{}" }), expected);
  t.not(computeEventHash({ ...first, prev_hash: "1".repeat(64) }), expected);
});

test("canonical JSON sorts keys recursively by UTF-16 code units, without whitespace", (t) => {
  t.is(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } }), '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}');
  // U+1F600 is D83D DE00 in UTF-16, which sorts before U+FB01 (code point order would not).
  t.is(canonicalJson({ "\uFB01": 1, "\u{1F600}": 2, a: 3 }), '{"a":3,"\u{1F600}":2,"\uFB01":1}');
});

test("canonical JSON formats numbers and strings as RFC 8785", (t) => {
  t.is(canonicalJson([1e21, -0, 0.1, 1.5e-7, 100, -3.25, 1e-7, 123456789012]), "[1e+21,0,0.1,1.5e-7,100,-3.25,1e-7,123456789012]");
  t.is(canonicalJson("a\u0001\u001f\b\f\n\r\t\"\\\u007f€😀/"), '"a\\u0001\\u001f\\b\\f\\n\\r\\t\\"\\\\\u007f€😀/"');
  t.is(canonicalJson({}), "{}");
  t.is(canonicalJson([]), "[]");
  t.is(canonicalJson(true), "true");
});

test("canonical JSON rejects what is not plain I-JSON", (t) => {
  const bad: unknown[] = [
    Number.NaN,
    Number.POSITIVE_INFINITY,
    undefined,
    () => 1,
    10n,
    Symbol("s"),
    new Date(0),
    new Map(),
    { a: undefined },
    [1, , 3], // eslint-disable-line no-sparse-arrays
    "\uD800x",
    { "\uDC00": 1 },
  ];
  for (const value of bad) {
    const err = t.throws(() => canonicalJson(value), { instanceOf: AuditError }, String(typeof value));
    t.is(err?.code, "invalid_event");
  }
  // A well-formed surrogate pair is fine.
  t.is(canonicalJson("\uD83D\uDE00"), '"😀"');
});

test("canonical JSON bounds nesting depth", (t) => {
  let deep: unknown = 1;
  for (let i = 0; i < 5; i++) deep = [deep];
  t.is(canonicalJson(deep, 5), "[[[[[1]]]]]");
  t.throws(() => canonicalJson([deep], 5), { instanceOf: AuditError });
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  t.throws(() => canonicalJson(cyclic), { instanceOf: AuditError });
});

test("a __proto__ key is data, not a prototype", (t) => {
  const value = JSON.parse('{"__proto__":{"x":1},"a":2}') as unknown;
  t.is(canonicalJson(value), '{"__proto__":{"x":1},"a":2}');
});
