/** Protocol conformance of the SDS server, driven by a raw `ws` client so the wire format itself is under test. */
import test from "ava";
import { SdsError } from "../../sds-server/errors.js";
import { SdsServer } from "../../sds-server/server.js";
import { RawClient, SECRET_TYPE_URL, harness, secrets, waitFor } from "./helpers.js";

test("first response goes out at once with both resources, a version and a random nonce", async (t) => {
  const h = harness();
  t.teardown(h.cleanup);
  await h.server.addWorkload("web");
  h.server.setSecrets("web", secrets("v1", { crl: true }));
  const c = await RawClient.connect(h.path("web"));
  c.request();
  const r = await c.next();
  t.is(r.type_url, SECRET_TYPE_URL);
  t.is(r.version_info, "1");
  t.regex(r.nonce, /^[0-9a-f]{32}$/);
  t.deepEqual(r.resources, [
    {
      name: "default",
      tls_certificate: {
        certificate_chain: { inline_string: secrets("v1").default?.certificateChainPem },
        private_key: { inline_string: secrets("v1").default?.privateKeyPem },
      },
    },
    {
      name: "ROOTCA",
      validation_context: {
        trusted_ca: { inline_string: secrets("v1").ROOTCA?.trustedCaPem },
        crl: { inline_string: secrets("v1", { crl: true }).ROOTCA?.crlPem },
      },
    },
  ]);
  t.is(h.server.subscriberCount("web"), 1);
  t.deepEqual(
    h.events.map((e) => e.type),
    ["connected"],
  );
});

test("a client that subscribes before any secrets exist is answered as soon as they do", async (t) => {
  const h = harness();
  t.teardown(h.cleanup);
  await h.server.addWorkload("web");
  const c = await RawClient.connect(h.path("web"));
  c.request();
  t.true(await c.quiet(100));
  // Only half of the subscribed set: still nothing.
  h.server.setSecrets("web", { default: secrets("a").default });
  t.true(await c.quiet(100));
  h.server.setSecrets("web", secrets("a"));
  const r = await c.next();
  t.is(r.version_info, "2");
  t.deepEqual(
    r.resources.map((x) => x.name),
    ["default", "ROOTCA"],
  );
});

test("pushes on change, never on identical content; versions increase per workload", async (t) => {
  const h = harness();
  t.teardown(h.cleanup);
  await h.server.addWorkload("web");
  h.server.setSecrets("web", secrets("a"));
  const c = await RawClient.connect(h.path("web"));
  c.request();
  const r1 = await c.next();
  c.ack(r1);
  h.server.setSecrets("web", secrets("a"));
  t.true(await c.quiet());
  t.is(h.server.version("web"), "1");
  h.server.setSecrets("web", secrets("b"));
  const r2 = await c.next();
  t.is(r2.version_info, "2");
  t.not(r2.nonce, r1.nonce);
  t.is(r2.resources.length, 2);
  c.ack(r2);
  h.server.setSecrets("web", secrets("c"));
  const r3 = await c.next();
  t.is(r3.version_info, "3");
  t.true(await c.quiet(50));
});

test("ACK is quiet; NACK is reported, not resent, and the next real change is pushed", async (t) => {
  const h = harness();
  t.teardown(h.cleanup);
  await h.server.addWorkload("web");
  h.server.setSecrets("web", secrets("a"));
  const c = await RawClient.connect(h.path("web"));
  c.request();
  const r1 = await c.next();
  c.ack(r1);
  t.true(await c.quiet(50));
  h.server.setSecrets("web", secrets("bad"));
  const r2 = await c.next();
  c.request({ version_info: r1.version_info, response_nonce: r2.nonce, error_detail: { code: 3, message: "certificate\nexpired" } });
  await waitFor(() => h.events.some((e) => e.type === "nack"));
  t.deepEqual(
    h.events.find((e) => e.type === "nack"),
    { type: "nack", workload: "web", version: "2", message: "certificate expired" },
  );
  t.true(await c.quiet());
  // Setting the same (rejected) content again is not a change either.
  h.server.setSecrets("web", secrets("bad"));
  t.true(await c.quiet(50));
  h.server.setSecrets("web", secrets("good"));
  const r3 = await c.next();
  t.is(r3.version_info, "3");
  t.true(r3.resources.some((x) => x.name === "default" && x.tls_certificate.certificate_chain.inline_string.includes("leaf-good")));
});

test("a request with a stale nonce is ignored, even a NACK or a subscription change", async (t) => {
  const h = harness();
  t.teardown(h.cleanup);
  await h.server.addWorkload("web");
  h.server.setSecrets("web", secrets("a"));
  const c = await RawClient.connect(h.path("web"));
  c.request();
  const r1 = await c.next();
  h.server.setSecrets("web", secrets("b"));
  const r2 = await c.next();
  c.request({ resource_names: ["ROOTCA"], version_info: r1.version_info, response_nonce: r1.nonce });
  c.request({ version_info: "", response_nonce: r1.nonce, error_detail: { message: "late" } });
  c.request({ version_info: r1.version_info, response_nonce: "not-a-nonce-we-sent" });
  t.true(await c.quiet());
  t.false(h.events.some((e) => e.type === "nack"));
  // With the current nonce the same change is honoured.
  c.request({ resource_names: ["ROOTCA"], version_info: r2.version_info, response_nonce: r2.nonce });
  const r3 = await c.next();
  t.deepEqual(
    r3.resources.map((x) => x.name),
    ["ROOTCA"],
  );
});

test("a changed subscription is answered with exactly the requested resources and scopes later pushes", async (t) => {
  const h = harness();
  t.teardown(h.cleanup);
  await h.server.addWorkload("web");
  h.server.setSecrets("web", secrets("a"));
  const c = await RawClient.connect(h.path("web"));
  c.request();
  const r1 = await c.next();
  c.request({ resource_names: ["ROOTCA"], version_info: r1.version_info, response_nonce: r1.nonce });
  const r2 = await c.next();
  t.deepEqual(r2.resources, [{ name: "ROOTCA", validation_context: { trusted_ca: { inline_string: secrets("a").ROOTCA?.trustedCaPem } } }]);
  c.ack(r2, ["ROOTCA"]);
  // Only the certificate changes: nothing this client subscribed to.
  h.server.setSecrets("web", { ...secrets("a"), default: secrets("b").default });
  t.true(await c.quiet());
  h.server.setSecrets("web", secrets("c"));
  const r3 = await c.next();
  t.deepEqual(
    r3.resources.map((x) => x.name),
    ["ROOTCA"],
  );
  // Reordering the same set is not a change.
  c.request({ resource_names: ["ROOTCA"], version_info: r3.version_info, response_nonce: r3.nonce });
  c.request({ resource_names: ["default", "ROOTCA"], version_info: r3.version_info, response_nonce: r3.nonce });
  const r4 = await c.next();
  t.deepEqual(
    r4.resources.map((x) => x.name),
    ["default", "ROOTCA"],
  );
  c.request({ resource_names: ["ROOTCA", "default"], version_info: r4.version_info, response_nonce: r4.nonce });
  t.true(await c.quiet());
});

test("several clients on one socket each keep their own stream state", async (t) => {
  const h = harness();
  t.teardown(h.cleanup);
  await h.server.addWorkload("web");
  h.server.setSecrets("web", secrets("a"));
  const both = await RawClient.connect(h.path("web"));
  const rootOnly = await RawClient.connect(h.path("web"));
  const certOnly = await RawClient.connect(h.path("web"));
  both.request();
  rootOnly.request({ resource_names: ["ROOTCA"] });
  certOnly.request({ resource_names: ["default"] });
  const [b1, ro1, c1] = await Promise.all([both.next(), rootOnly.next(), certOnly.next()]);
  t.is(new Set([b1.nonce, ro1.nonce, c1.nonce]).size, 3);
  t.deepEqual(
    ro1.resources.map((x) => x.name),
    ["ROOTCA"],
  );
  t.deepEqual(
    c1.resources.map((x) => x.name),
    ["default"],
  );
  t.is(h.server.subscriberCount("web"), 3);
  both.ack(b1);
  h.server.setSecrets("web", { ...secrets("a"), default: secrets("b").default });
  const [b2, c2] = await Promise.all([both.next(), certOnly.next()]);
  t.is(b2.version_info, "2");
  t.is(c2.version_info, "2");
  t.true(await rootOnly.quiet());
  // A NACK on one stream does not touch the others.
  certOnly.request({ resource_names: ["default"], response_nonce: c2.nonce, error_detail: { message: "no" } });
  both.close();
  await waitFor(() => h.server.subscriberCount("web") === 2);
  h.server.setSecrets("web", secrets("c"));
  const [ro3, c3] = await Promise.all([rootOnly.next(), certOnly.next()]);
  t.is(ro3.version_info, "3");
  t.is(c3.version_info, "3");
});

test("each socket serves only its own workload's secrets", async (t) => {
  const h = harness();
  t.teardown(h.cleanup);
  await h.server.addWorkload("frontend");
  await h.server.addWorkload("backend");
  h.server.setSecrets("frontend", secrets("front"));
  h.server.setSecrets("backend", secrets("back"));
  const f = await RawClient.connect(h.path("frontend"));
  const b = await RawClient.connect(h.path("backend"));
  f.request();
  b.request();
  const [fr, br] = await Promise.all([f.next(), b.next()]);
  t.true(JSON.stringify(fr).includes("leaf-front"));
  t.false(JSON.stringify(fr).includes("back"));
  t.true(JSON.stringify(br).includes("leaf-back"));
  t.false(JSON.stringify(br).includes("front"));
  h.server.setSecrets("backend", secrets("back2"));
  await b.next();
  t.true(await f.quiet());
  t.deepEqual(h.server.workloads(), ["backend", "frontend"]);
  t.is(h.server.subscriberCount(), 2);
});

test("API misuse is rejected with typed errors", async (t) => {
  const h = harness();
  t.teardown(h.cleanup);
  await t.throwsAsync(h.server.addWorkload("../etc"), { instanceOf: SdsError, message: /workload name/ });
  await t.throwsAsync(h.server.addWorkload("web", { appToken: "short" }), { instanceOf: SdsError });
  await h.server.addWorkload("web");
  await t.throwsAsync(h.server.addWorkload("web"), { instanceOf: SdsError, message: /already exists/ });
  t.throws(() => h.server.setSecrets("nope", secrets("a")), { instanceOf: SdsError });
  t.throws(() => h.server.setSecrets("web", { default: { certificateChainPem: "", privateKeyPem: "" } }), { instanceOf: SdsError });
  await t.throwsAsync(h.server.removeWorkload("nope"), { instanceOf: SdsError });
  t.throws(() => new SdsServer({ dir: h.dir, maxFrameBytes: -1 }), { instanceOf: SdsError });
  await h.server.close();
  await t.throwsAsync(h.server.addWorkload("late"), { instanceOf: SdsError, message: /closed/ });
});
