/**
 * End-to-end tests of `mesh` as a user runs it (a child process): help, exit
 * codes and error lines, `ca init` for every key type, `ca issue` to files
 * checked with openssl, PKCS#12 output, and a CA under a corporate root.
 */
import test from "ava";
import { X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PASSPHRASE, removeDir, tempDir } from "../helpers/env.js";
import { mesh, ok, okJson, pemBlocks, run, STACK_FRAME, type RunResult } from "../helpers/mesh-cli.js";

const root = tempDir("mesh-cli-");
test.after.always(() => removeDir(root));
let n = 0;
/** A new, empty directory path under the test root. */
const fresh = (name: string): string => join(root, `${name}-${++n}`);

const TD = "example.org";

/** stderr is exactly one line. */
function oneLine(r: RunResult): string {
  const lines = r.stderr.split("\n").filter((l) => l.length > 0);
  if (lines.length !== 1) throw new Error(`expected one line on stderr, got ${lines.length}: ${r.stderr}`);
  return lines[0]!;
}

const mode = (file: string): number => statSync(file).mode & 0o777;

// A CA shared by the tests that only issue from it.
let shared = "";
test.before(async () => {
  shared = fresh("shared");
  ok(await mesh(["ca", "init", "--dir", shared, "--trust-domain", TD]), "ca init");
});

test("--help at each level exits 0 and prints usage", async (t) => {
  const top = await mesh(["--help"]);
  t.is(top.status, 0);
  t.regex(top.stdout, /^Usage: mesh /m);
  t.regex(top.stdout, /^\s+ca\b/m);
  t.regex(top.stdout, /^\s+audit\b/m);
  const ca = await mesh(["ca", "--help"]);
  t.is(ca.status, 0);
  t.regex(ca.stdout, /^Usage: mesh ca /m);
  for (const sub of ["init", "issue", "revoke", "crl", "bundle", "rotate", "list", "token", "entry", "serve"]) t.regex(ca.stdout, new RegExp(`^\\s+${sub}\\b`, "m"), sub);
  const init = await mesh(["ca", "init", "--help"]);
  t.is(init.status, 0);
  t.regex(init.stdout, /^Usage: mesh ca init /m);
  t.regex(init.stdout, /--trust-domain <td>/);
  t.regex(init.stdout, /--key-type <type>/);
  t.is(init.stderr, "");
});

test("an unknown command or option is a usage error: exit 2, one line, no stack trace", async (t) => {
  const cmd = await mesh(["frobnicate"]);
  t.is(cmd.status, 2);
  t.regex(oneLine(cmd), /unknown command 'frobnicate'/);
  t.notRegex(cmd.stderr, STACK_FRAME);

  const dir = fresh("unknown-opt");
  const opt = await mesh(["ca", "init", "--dir", dir, "--trust-domain", TD, "--frob"]);
  t.is(opt.status, 2);
  t.regex(oneLine(opt), /unknown option '--frob'/);
  t.notRegex(opt.stderr, STACK_FRAME);
  t.false(existsSync(join(dir, "ca.db")), "nothing was created");

  const sub = await mesh(["ca", "frobnicate"]);
  t.is(sub.status, 2);
  t.regex(oneLine(sub), /unknown command 'frobnicate'/);

  const value = await mesh(["ca", "init", "--dir", fresh("bad-ttl"), "--trust-domain", TD, "--ca-ttl", "banana"]);
  t.is(value.status, 2);
  t.regex(oneLine(value), /^mesh: --ca-ttl 'banana' is not a duration/);
});

test("a missing passphrase is a usage error that says where the passphrase comes from", async (t) => {
  const dir = fresh("no-pass");
  const init = await mesh(["ca", "init", "--dir", dir, "--trust-domain", TD], { env: { MESH_CA_PASSPHRASE: undefined } });
  t.is(init.status, 2);
  const line = oneLine(init);
  t.regex(line, /^mesh: /);
  t.regex(line, /MESH_CA_PASSPHRASE/);
  t.regex(line, /--passphrase-file/);
  t.false(existsSync(join(dir, "ca.db")), "no CA without a passphrase");

  const list = await mesh(["ca", "list", "--dir", shared], { env: { MESH_CA_PASSPHRASE: undefined } });
  t.is(list.status, 2);
  t.regex(oneLine(list), /MESH_CA_PASSPHRASE/);

  const missingFile = await mesh(["ca", "list", "--dir", shared, "--passphrase-file", join(root, "nope.txt")], { env: { MESH_CA_PASSPHRASE: undefined } });
  t.is(missingFile.status, 2);
  t.regex(oneLine(missingFile), /^mesh: cannot read passphrase file/);
});

test("--passphrase-file unlocks the CA; a wrong passphrase is a failure (exit 1)", async (t) => {
  const file = join(root, "pass.txt");
  writeFileSync(file, `${PASSPHRASE}\n`, { mode: 0o600 });
  const dir = fresh("pass-file");
  const env = { MESH_CA_PASSPHRASE: undefined };
  t.is((await mesh(["ca", "init", "--dir", dir, "--trust-domain", TD, "--passphrase-file", file], { env })).status, 0);
  const list = await mesh(["ca", "list", "--dir", dir, "--passphrase-file", file, "--json"], { env });
  t.is(list.status, 0, list.stderr);
  t.is((JSON.parse(list.stdout) as { trust_domain: string }).trust_domain, TD);

  const wrong = await mesh(["ca", "list", "--dir", dir], { env: { MESH_CA_PASSPHRASE: "not-the-passphrase" } });
  t.is(wrong.status, 1);
  t.regex(oneLine(wrong), /^mesh: bad_passphrase: .*passphrase/);
});

test("a failure exits 1 with one `mesh:` line; --debug adds the stack trace", async (t) => {
  const foreign = await mesh(["ca", "issue", "--dir", shared, "--spiffe-id", "spiffe://other.org/ns/a/sa/b", "--out-dir", fresh("foreign")]);
  t.is(foreign.status, 1);
  t.regex(oneLine(foreign), /^mesh: forbidden: spiffe:\/\/other\.org\/ns\/a\/sa\/b is not in trust domain example\.org$/);
  t.notRegex(foreign.stderr, STACK_FRAME);

  const again = await mesh(["ca", "init", "--dir", shared, "--trust-domain", TD]);
  t.is(again.status, 1);
  t.regex(oneLine(again), /^mesh: conflict: .* already holds a CA$/);
  t.notRegex(again.stderr, STACK_FRAME);

  for (const args of [["--debug", "ca", "init", "--dir", shared, "--trust-domain", TD], ["ca", "init", "--dir", shared, "--trust-domain", TD, "--debug"]]) {
    const debug = await mesh(args);
    t.is(debug.status, 1);
    t.regex(debug.stderr, /^mesh: conflict: /);
    t.regex(debug.stderr, STACK_FRAME);
  }
  const envDebug = await mesh(["ca", "init", "--dir", shared, "--trust-domain", TD], { env: { MESH_DEBUG: "1" } });
  t.is(envDebug.status, 1);
  t.regex(envDebug.stderr, STACK_FRAME);
});

const KEY_TEXT: Record<string, RegExp> = {
  "ec-p256": /NIST CURVE: P-256/,
  "ec-p384": /NIST CURVE: P-384/,
  "rsa-2048": /Public-Key: \(2048 bit\)/,
  "rsa-3072": /Public-Key: \(3072 bit\)/,
};

for (const keyType of Object.keys(KEY_TEXT)) {
  test(`ca init --key-type ${keyType}, then ca issue --ttl 2h --dns: files, modes and openssl verify`, async (t) => {
    const dir = fresh(`ca-${keyType}`);
    const out = fresh(`out-${keyType}`);
    const init = okJson<{ key_type: string; trust_domain: string; serial: string }>(await mesh(["ca", "init", "--dir", dir, "--trust-domain", TD, "--key-type", keyType, "--json"]));
    t.is(init.key_type, keyType);
    t.is(init.trust_domain, TD);

    const id = `spiffe://${TD}/ns/shop/sa/${keyType}`;
    const before = Date.now();
    const issued = okJson<{ spiffe_id: string; serial: string; not_after: string; files: string[] }>(
      await mesh(["ca", "issue", "--dir", dir, "--spiffe-id", id, "--out-dir", out, "--ttl", "2h", "--dns", "a.example", "--json"]),
    );
    t.is(issued.spiffe_id, id);
    t.deepEqual(issued.files.sort(), ["bundle.pem", "svid.key", "svid.pem"].map((f) => join(out, f)));
    for (const f of issued.files) t.true(existsSync(f), f);
    t.is(mode(join(out, "svid.key")), 0o600);
    t.false(existsSync(join(out, "svid.p12")), "no PKCS#12 unless asked");

    // the CA's certificate (the bundle) has the requested key type
    const caText = (await run("openssl", ["x509", "-in", join(out, "bundle.pem"), "-noout", "-text"])).stdout;
    t.regex(caText, KEY_TEXT[keyType]!);

    // svid.pem: the leaf first (no intermediates under a self-signed root)
    const chain = pemBlocks(readFileSync(join(out, "svid.pem"), "utf8"));
    t.is(chain.length, 1);
    const leaf = new X509Certificate(chain[0]!);
    t.false(leaf.ca);
    t.is(leaf.serialNumber.toLowerCase().replace(/^0+/, ""), issued.serial.replace(/^0+/, ""));
    const lifetime = (Date.parse(leaf.validTo) - Date.parse(leaf.validFrom)) / 1000;
    t.true(lifetime >= 7200 && lifetime <= 7200 + 120, `lifetime ${lifetime} s`);
    t.true(Math.abs(Date.parse(issued.not_after) - (before + 7200_000)) < 60_000, issued.not_after);

    const verify = await run("openssl", ["verify", "-x509_strict", "-CAfile", join(out, "bundle.pem"), join(out, "svid.pem")]);
    t.is(verify.status, 0, verify.stderr);
    t.regex(verify.stdout, /svid\.pem: OK/);
    const san = await run("openssl", ["x509", "-in", join(out, "svid.pem"), "-noout", "-ext", "subjectAltName"]);
    t.regex(san.stdout, new RegExp(`URI:${id.replace(/[./]/g, "\\$&")}(,|\\s|$)`));
    t.regex(san.stdout, /DNS:a\.example/);

    // the key in svid.key belongs to the leaf
    const keyPub = await run("openssl", ["pkey", "-in", join(out, "svid.key"), "-pubout"]);
    const certPub = await run("openssl", ["x509", "-in", join(out, "svid.pem"), "-noout", "-pubkey"]);
    t.is(keyPub.status, 0, keyPub.stderr);
    t.is(keyPub.stdout, certPub.stdout);
  });
}

test("ca issue --p12 writes svid.p12 and a 0600 svid.p12.pass that openssl accepts", async (t) => {
  const out = fresh("p12");
  const r = await mesh(["ca", "issue", "--dir", shared, "--spiffe-id", `spiffe://${TD}/ns/jvm/sa/app`, "--out-dir", out, "--p12"]);
  t.is(r.status, 0, r.stderr);
  for (const f of ["svid.p12", "svid.p12.pass"]) {
    t.true(existsSync(join(out, f)), f);
    t.is(mode(join(out, f)), 0o600, f);
  }
  t.true(readFileSync(join(out, "svid.p12.pass"), "utf8").trim().length >= 16);
  const info = await run("openssl", ["pkcs12", "-info", "-nodes", "-in", join(out, "svid.p12"), "-passin", `file:${join(out, "svid.p12.pass")}`]);
  t.is(info.status, 0, info.stderr);
  t.regex(info.stdout, /-----BEGIN PRIVATE KEY-----/);
  t.regex(info.stdout, /friendlyName: spiffe:\/\/example\.org\/ns\/jvm\/sa\/app/);
  const wrong = await run("openssl", ["pkcs12", "-info", "-nodes", "-in", join(out, "svid.p12"), "-passin", "pass:wrong-password"]);
  t.not(wrong.status, 0, "the PKCS#12 is really protected by the password");
});

test("ca issue --p12 with MESH_P12_PASSPHRASE uses it and writes no .pass file", async (t) => {
  const out = fresh("p12-env");
  const r = await mesh(["ca", "issue", "--dir", shared, "--spiffe-id", `spiffe://${TD}/ns/jvm/sa/env`, "--out-dir", out, "--p12"], { env: { MESH_P12_PASSPHRASE: "p12-from-env" } });
  t.is(r.status, 0, r.stderr);
  t.true(existsSync(join(out, "svid.p12")));
  t.false(existsSync(join(out, "svid.p12.pass")));
  const info = await run("openssl", ["pkcs12", "-info", "-nodes", "-in", join(out, "svid.p12"), "-passin", "pass:p12-from-env"]);
  t.is(info.status, 0, info.stderr);
  t.regex(info.stdout, /-----BEGIN CERTIFICATE-----/);
});

test("ca init under a corporate root: svid.pem is leaf + intermediate, bundle.pem only the root", async (t) => {
  const corp = fresh("corp");
  mkdirSync(corp);
  const rootCert = join(corp, "root.pem");
  const rootKey = join(corp, "root.key");
  ok(
    await run("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", rootKey, "-out", rootCert, "-days", "30",
      "-subj", "/O=Corp/CN=Corp Root CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    ]),
    "openssl req -x509",
  );
  const dir = fresh("ca-corp");
  const out = fresh("out-corp");
  ok(await mesh(["ca", "init", "--dir", dir, "--trust-domain", TD, "--root-cert", rootCert, "--root-key", rootKey]), "ca init --root-cert");
  const id = `spiffe://${TD}/ns/corp/sa/svc`;
  ok(await mesh(["ca", "issue", "--dir", dir, "--spiffe-id", id, "--out-dir", out]), "ca issue");

  const chain = pemBlocks(readFileSync(join(out, "svid.pem"), "utf8"));
  t.is(chain.length, 2);
  const [leaf, inter] = chain.map((p) => new X509Certificate(p));
  const corpRoot = new X509Certificate(readFileSync(rootCert));
  t.false(leaf!.ca);
  t.is(leaf!.subjectAltName, `URI:${id}`);
  t.true(inter!.ca);
  t.true(leaf!.checkIssued(inter!));
  t.true(inter!.checkIssued(corpRoot));

  const bundle = pemBlocks(readFileSync(join(out, "bundle.pem"), "utf8"));
  t.is(bundle.length, 1);
  t.is(new X509Certificate(bundle[0]!).fingerprint256, corpRoot.fingerprint256);

  writeFileSync(join(out, "leaf.pem"), chain[0]!);
  writeFileSync(join(out, "intermediate.pem"), chain[1]!);
  const verify = await run("openssl", ["verify", "-x509_strict", "-CAfile", rootCert, "-untrusted", join(out, "intermediate.pem"), join(out, "leaf.pem")]);
  t.is(verify.status, 0, verify.stderr);
  t.regex(verify.stdout, /leaf\.pem: OK/);
  const noInter = await run("openssl", ["verify", "-CAfile", rootCert, join(out, "leaf.pem")]);
  t.not(noInter.status, 0, "the leaf needs the intermediate to reach the corporate root");

  const missingKey = await mesh(["ca", "init", "--dir", fresh("corp-nokey"), "--trust-domain", TD, "--root-cert", rootCert]);
  t.is(missingKey.status, 2);
  t.regex(oneLine(missingKey), /^mesh: --root-cert needs --root-key/);
});
