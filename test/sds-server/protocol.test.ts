import test from "ava";
import { SdsError } from "../../sds-server/errors.js";
import {
  SECRET_TYPE_URL,
  buildResources,
  isValidWorkloadName,
  normalizeSecrets,
  parseDiscoveryRequest,
  parseDiscoveryResponse,
  resourcesToSecrets,
} from "../../sds-server/protocol.js";
import { backoffDelay } from "../../sds-server/backoff.js";
import { secrets } from "./helpers.js";

const req = (o: Record<string, unknown>): string => JSON.stringify({ type_url: SECRET_TYPE_URL, resource_names: ["default"], ...o });

function rejects(text: string, code: string, msg?: RegExp): void {
  let err: unknown;
  try {
    parseDiscoveryRequest(text);
  } catch (e) {
    err = e;
  }
  if (!(err instanceof SdsError)) throw new Error(`expected SdsError for ${text.slice(0, 80)}`);
  if (err.code !== code) throw new Error(`expected ${code}, got ${err.code}: ${err.message}`);
  if (msg && !msg.test(err.message)) throw new Error(`message ${err.message} does not match ${msg}`);
}

test("parses a full request and defaults omitted proto3 strings", (t) => {
  const r = parseDiscoveryRequest(
    req({ resource_names: ["ROOTCA", "default"], version_info: "3", response_nonce: "ab", node: { id: "web", cluster: "c" }, error_detail: { code: 3, message: "bad" } }),
  );
  t.deepEqual(r, {
    type_url: SECRET_TYPE_URL,
    resource_names: ["ROOTCA", "default"],
    version_info: "3",
    response_nonce: "ab",
    node: { id: "web", cluster: "c" },
    error_detail: { code: 3, message: "bad" },
  });
  const minimal = parseDiscoveryRequest(req({}));
  t.is(minimal.version_info, "");
  t.is(minimal.response_nonce, "");
  t.is(minimal.node, undefined);
});

test("rejects malformed requests with typed, stable codes", (t) => {
  rejects("{nope", "invalid_json");
  rejects("", "invalid_json");
  rejects("[]", "invalid_message", /object/);
  rejects("null", "invalid_message");
  rejects(req({ type_url: "type.googleapis.com/envoy.config.cluster.v3.Cluster" }), "unsupported_type");
  rejects(JSON.stringify({ resource_names: ["default"] }), "invalid_message", /type_url/);
  rejects(req({ resource_names: ["default", "other"] }), "unknown_resource", /resource_names\[1\]/);
  rejects(req({ resource_names: [] }), "invalid_message", /empty/);
  rejects(req({ resource_names: "default" }), "invalid_message");
  rejects(req({ resource_names: [1] }), "invalid_message");
  rejects(req({ resource_names: ["default", "default"] }), "invalid_message", /duplicate/);
  rejects(req({ resource_names: Array(17).fill("default") }), "invalid_message", /16/);
  rejects(req({ resource_names: ["x".repeat(257)] }), "invalid_message", /256/);
  rejects(req({ version_info: 7 }), "invalid_message", /version_info/);
  rejects(req({ response_nonce: "n".repeat(257) }), "invalid_message", /response_nonce/);
  rejects(req({ node: "web" }), "invalid_message", /node/);
  rejects(req({ node: { id: "web", metadata: {} } }), "invalid_message", /unknown field/);
  rejects(req({ error_detail: { code: 99, message: "x" } }), "invalid_message", /gRPC/);
  rejects(req({ error_detail: { message: "m".repeat(4097) } }), "invalid_message");
  rejects(req({ error_detail: { code: 3 } }), "invalid_message", /message/);
  rejects(req({ extra: true }), "invalid_message", /unknown field/);
  rejects(req({ __proto__: 1 }).replace('"type_url"', '"__proto__":{},"type_url"'), "invalid_message");
  t.pass();
});

test("error messages never echo peer-supplied keys or names", (t) => {
  const err = t.throws(() => parseDiscoveryRequest(req({ "<script>secret-key": 1 })), { instanceOf: SdsError });
  t.false(err?.message.includes("secret-key"));
  const err2 = t.throws(() => parseDiscoveryRequest(req({ resource_names: ["hunter2-token"] })), { instanceOf: SdsError });
  t.false(err2?.message.includes("hunter2"));
});

test("resources round-trip in the requested order; incomplete sets are withheld", (t) => {
  const s = secrets("a", { crl: true });
  const res = buildResources(s, ["ROOTCA", "default"]);
  t.deepEqual(res?.map((r) => r.name), ["ROOTCA", "default"]);
  t.deepEqual(resourcesToSecrets(res ?? []), s);
  t.is(buildResources({ default: s.default }, ["default", "ROOTCA"]), undefined);
  t.deepEqual(buildResources({ default: s.default }, ["default"])?.length, 1);
  const wire = JSON.stringify({ version_info: "1", nonce: "n", type_url: SECRET_TYPE_URL, resources: res });
  t.deepEqual(parseDiscoveryResponse(wire).resources, res);
});

test("response parsing is strict too", (t) => {
  const ok = { version_info: "1", nonce: "n", type_url: SECRET_TYPE_URL, resources: buildResources(secrets("a"), ["default"]) };
  t.notThrows(() => parseDiscoveryResponse(JSON.stringify(ok)));
  const bad: Record<string, unknown>[] = [
    { ...ok, nonce: "" },
    { ...ok, type_url: "x" },
    { ...ok, resources: [{ name: "default" }] },
    { ...ok, resources: [{ name: "other", tls_certificate: {} }] },
    { ...ok, resources: [...(ok.resources ?? []), ...(ok.resources ?? [])] },
    { ...ok, resources: [{ name: "ROOTCA", validation_context: { trusted_ca: { inline_string: "" } } }] },
    { ...ok, resources: [{ name: "default", tls_certificate: { certificate_chain: { inline_string: "a" }, private_key: { filename: "/etc/shadow" } } }] },
    { ...ok, extra: 1 },
  ];
  for (const b of bad) t.throws(() => parseDiscoveryResponse(JSON.stringify(b)), { instanceOf: SdsError }, JSON.stringify(b).slice(0, 120));
});

test("normalizeSecrets checks types and copies", (t) => {
  const s = secrets("a");
  const copy = normalizeSecrets(s);
  t.deepEqual(copy, s);
  t.not(copy.default, s.default);
  t.throws(() => normalizeSecrets({ default: { certificateChainPem: "", privateKeyPem: "k" } }), { instanceOf: SdsError });
  t.throws(() => normalizeSecrets({ ROOTCA: { trustedCaPem: 5 } }), { instanceOf: SdsError });
  t.throws(() => normalizeSecrets({ ROOTCA: { trustedCaPem: "x".repeat(1024 * 1024 + 1) } }), { instanceOf: SdsError });
  t.throws(() => normalizeSecrets(null), { instanceOf: SdsError });
});

test("workload names", (t) => {
  for (const ok of ["a", "web", "backend-1", "a.b_c", "0" + "x".repeat(62)]) t.true(isValidWorkloadName(ok), ok);
  for (const bad of ["", ".", "..", "-a", ".a", "A", "a/b", "a b", "x".repeat(64), "a\u0000", "ä"]) t.false(isValidWorkloadName(bad), bad);
});

test("back-off grows exponentially, is capped, and jitter stays within [half, full]", (t) => {
  const b = { initialMs: 100, maxMs: 1000 };
  t.deepEqual([0, 1, 2, 3, 4, 5, 40].map((a) => backoffDelay(a, b, () => 0)), [50, 100, 200, 400, 500, 500, 500]);
  t.deepEqual([0, 1, 2, 3, 4].map((a) => backoffDelay(a, b, () => 0.999999)), [100, 200, 400, 800, 1000]);
  for (let i = 0; i < 200; i++) {
    const d = backoffDelay(i % 8, b, Math.random);
    const exp = Math.min(1000, 100 * 2 ** (i % 8));
    t.true(d >= exp / 2 && d <= exp);
  }
});
