import test from "ava";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseAgentConfig } from "../../citadel-agent/config.js";
import { AgentError } from "../../citadel-agent/errors.js";
import { trustBundle } from "../../pki/bundle.js";
import { makeCa } from "../pki/ca-fixture.js";

const base = { node: "n1", ca: { url: "https://127.0.0.1:8443", bundle_file: "bundle.pem" }, data_dir: "data", sds_dir: "sds", trust_domain: "example.org" };

test("defaults are filled in and relative paths resolve against the config's directory", (t) => {
  const c = parseAgentConfig(base, "/etc/mesh");
  t.is(c.poll_interval, 5);
  t.deepEqual(c.renewal, { fraction: 0.5, jitter: 0.1 });
  t.deepEqual(c.backoff, { initial: 0.5, max: 60 });
  t.is(c.data_dir, "/etc/mesh/data");
  t.is(c.ca.bundle_file, "/etc/mesh/bundle.pem");
  t.is(c.admin.listen, "127.0.0.1:15090");
});

test("errors name the key path and what was expected", (t) => {
  const bad = (raw: unknown, re: RegExp) => {
    const err = t.throws(() => parseAgentConfig(raw, "/x"));
    t.true(err instanceof AgentError);
    t.regex(err!.message, re);
  };
  bad({ ...base, poll_interval: "soon" }, /poll_interval: .*duration/);
  bad({ ...base, node: "Node 1" }, /node: expected a node name/);
  bad({ ...base, ca: { url: "not a url", bundle_file: "b" } }, /ca\.url/);
  bad({ ...base, renewal: { fraction: 1.5 } }, /renewal\.fraction/);
  bad({ ...base, surprise: 1 }, /surprise|unrecognized/i);
  bad({ ...base, trust_domain: "Example.ORG" }, /trust_domain: .*uppercase/);
});

test("the trust domain is read from the CA bundle when not given", (t) => {
  const f = makeCa();
  t.teardown(f.cleanup);
  writeFileSync(join(f.dir, "bundle.pem"), trustBundle(f.ca).pem);
  const { trust_domain: _td, ...rest } = base;
  void _td;
  const c = parseAgentConfig({ ...rest, ca: { url: "https://127.0.0.1:1", bundle_file: "bundle.pem" } }, f.dir);
  t.is(c.trust_domain, "example.org");
});
