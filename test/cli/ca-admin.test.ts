/**
 * End-to-end tests of the CA admin commands as child processes: revoke and
 * the CRL (read back with openssl), bundle formats, the inventory, rotation
 * prepare → activate → retire (checked with openssl verify), join tokens and
 * registration entries.
 */
import test from "ava";
import { X509Certificate } from "node:crypto";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { removeDir, tempDir } from "../helpers/env.js";
import { mesh, ok, okJson, pemBlocks, run } from "../helpers/mesh-cli.js";

const root = tempDir("mesh-admin-");
test.after.always(() => removeDir(root));
let n = 0;
const fresh = (name: string): string => join(root, `${name}-${++n}`);
const TD = "example.org";

interface Issued {
  spiffe_id: string;
  serial: string;
  not_after: string;
}
interface Listing {
  trust_domain: string;
  cas: { id: number; state: string; in_bundle: boolean; serial: string }[];
  certificates: { serial: string; spiffe_id: string; kind: string; revoked: { at: string; reason: string } | null }[];
  entries: { id: string; spiffe_id: string; node: string; workload: string }[];
}

async function newCa(name: string): Promise<string> {
  const dir = fresh(name);
  ok(await mesh(["ca", "init", "--dir", dir, "--trust-domain", TD]), "ca init");
  return dir;
}

async function issue(dir: string, id: string, out = fresh("out")): Promise<Issued & { out: string }> {
  return { ...okJson<Issued>(await mesh(["ca", "issue", "--dir", dir, "--spiffe-id", id, "--out-dir", out, "--json"]), "ca issue"), out };
}

const fingerprint = (pem: string): string => new X509Certificate(pem).fingerprint256;

async function bundleCerts(dir: string): Promise<string[]> {
  return pemBlocks(ok(await mesh(["ca", "bundle", "--dir", dir]), "ca bundle").stdout);
}

/** openssl verify of a leaf against exactly the given roots. */
async function verifiesWith(rootPem: string, leafFile: string): Promise<boolean> {
  const file = join(root, `roots-${++n}.pem`);
  writeFileSync(file, rootPem);
  return (await run("openssl", ["verify", "-x509_strict", "-CAfile", file, leafFile])).status === 0;
}

test("revoke by serial and by SPIFFE ID; the CRL lists both with their reasons; list shows revocation", async (t) => {
  const dir = await newCa("revoke");
  const a = await issue(dir, `spiffe://${TD}/ns/r/sa/one`);
  const b1 = await issue(dir, `spiffe://${TD}/ns/r/sa/two`);
  const b2 = await issue(dir, `spiffe://${TD}/ns/r/sa/two`);
  const keep = await issue(dir, `spiffe://${TD}/ns/r/sa/keep`);
  const entry = okJson<{ id: string }>(await mesh(["ca", "entry", "create", "--dir", dir, "--spiffe-id", `spiffe://${TD}/ns/r/sa/web`, "--node", "n1", "--workload", "web", "--json"]));

  const bySerial = await mesh(["ca", "revoke", "--dir", dir, "--serial", a.serial]);
  t.is(bySerial.status, 0, bySerial.stderr);
  t.is(bySerial.stdout, `revoked ${a.serial} (${a.spiffe_id})\n`);
  const byId = await mesh(["ca", "revoke", "--dir", dir, "--spiffe-id", b1.spiffe_id, "--reason", "keyCompromise", "--json"]);
  t.is(byId.status, 0, byId.stderr);
  const r = JSON.parse(byId.stdout) as { revoked: { serial: string }[]; alreadyRevoked: string[] };
  t.deepEqual(r.revoked.map((x) => x.serial).sort(), [b1.serial, b2.serial].sort());
  t.deepEqual(r.alreadyRevoked, []);
  const again = await mesh(["ca", "revoke", "--dir", dir, "--serial", a.serial]);
  t.is(again.status, 0);
  t.regex(again.stdout, new RegExp(`already revoked ${a.serial}`));
  const neither = await mesh(["ca", "revoke", "--dir", dir]);
  t.is(neither.status, 2);
  t.regex(neither.stderr, /^mesh: give exactly one of --serial or --spiffe-id\n$/);

  const crl = await mesh(["ca", "crl", "--dir", dir]);
  t.is(crl.status, 0, crl.stderr);
  t.regex(crl.stdout, /^-----BEGIN X509 CRL-----/);
  const text = await run("openssl", ["crl", "-noout", "-text"], { input: crl.stdout });
  t.is(text.status, 0, text.stderr);
  const listed = [...text.stdout.matchAll(/Serial Number: ([0-9A-F]+)/g)].map((m) => m[1]!.toLowerCase().replace(/^0+/, ""));
  const hex = (s: string): string => s.toLowerCase().replace(/^0+/, "");
  t.deepEqual(listed.sort(), [a.serial, b1.serial, b2.serial].map(hex).sort());
  t.false(listed.includes(hex(keep.serial)));
  t.is(text.stdout.match(/Key Compromise/g)?.length, 2);
  const signed = await run("openssl", ["crl", "-noout", "-CAfile", join(a.out, "bundle.pem")], { input: crl.stdout });
  t.is(signed.status, 0, signed.stderr);
  t.regex(signed.stdout + signed.stderr, /verify OK/);

  const list = okJson<Listing>(await mesh(["ca", "list", "--dir", dir, "--json"]));
  t.is(list.trust_domain, TD);
  t.is(list.cas.length, 1);
  t.like(list.cas[0], { id: 1, state: "active", in_bundle: true });
  const bySer = new Map(list.certificates.map((c) => [c.serial, c]));
  t.is(bySer.get(a.serial)?.revoked?.reason, "unspecified");
  t.is(bySer.get(b1.serial)?.revoked?.reason, "keyCompromise");
  t.is(bySer.get(b2.serial)?.revoked?.reason, "keyCompromise");
  t.is(bySer.get(keep.serial)?.revoked, null);
  t.is(bySer.get(keep.serial)?.kind, "manual");
  t.deepEqual(list.entries.map((e) => e.id), [entry.id]);
  const human = await mesh(["ca", "list", "--dir", dir]);
  t.regex(human.stdout, new RegExp(`${b1.serial}.*REVOKED \\(keyCompromise\\)`));
});

test("ca bundle prints PEM or a SPIFFE bundle; an unknown format is a usage error", async (t) => {
  const dir = await newCa("bundle");
  const out = await issue(dir, `spiffe://${TD}/ns/b/sa/x`);
  const pem = await mesh(["ca", "bundle", "--dir", dir, "--format", "pem"]);
  t.is(pem.status, 0, pem.stderr);
  const certs = pemBlocks(pem.stdout);
  t.is(certs.length, 1);
  t.is(pem.stdout, readFileSync(join(out.out, "bundle.pem"), "utf8"));
  t.true(new X509Certificate(certs[0]!).ca);

  const spiffe = await mesh(["ca", "bundle", "--dir", dir, "--format", "spiffe"]);
  t.is(spiffe.status, 0, spiffe.stderr);
  const b = JSON.parse(spiffe.stdout) as { keys: { use: string; kty: string; x5c: string[] }[]; spiffe_sequence: number };
  t.is(b.keys.length, 1);
  t.is(b.keys[0]!.use, "x509-svid");
  t.is(b.keys[0]!.kty, "EC");
  t.is(new X509Certificate(Buffer.from(b.keys[0]!.x5c[0]!, "base64")).fingerprint256, fingerprint(certs[0]!));
  t.true(Number.isInteger(b.spiffe_sequence) && b.spiffe_sequence > 0);

  const bad = await mesh(["ca", "bundle", "--dir", dir, "--format", "xml"]);
  t.is(bad.status, 2);
  t.is(bad.stderr, "mesh: --format must be pem or spiffe\n");
});

test("rotation: prepare adds to the bundle, activate switches the signer, retire keeps a CA with live leaves, --force drops it", async (t) => {
  const dir = await newCa("rotate");
  const before = await issue(dir, `spiffe://${TD}/ns/rot/sa/old`);
  const [oldRoot] = await bundleCerts(dir);

  const noPrepared = await mesh(["ca", "rotate", "activate", "--dir", dir]);
  t.is(noPrepared.status, 1);
  t.regex(noPrepared.stderr, /^mesh: conflict: no prepared CA/);

  const prepared = okJson<{ step: string; ca: { id: number; state: string } }>(await mesh(["ca", "rotate", "prepare", "--dir", dir, "--json"]));
  t.deepEqual([prepared.step, prepared.ca.id, prepared.ca.state], ["prepare", 2, "prepared"]);
  const afterPrepare = await bundleCerts(dir);
  t.is(afterPrepare.length, 2);
  t.true(afterPrepare.some((c) => fingerprint(c) === fingerprint(oldRoot!)));
  const newRoot = afterPrepare.find((c) => fingerprint(c) !== fingerprint(oldRoot!))!;
  // a prepared CA is trusted but does not sign yet
  const stillOld = await issue(dir, `spiffe://${TD}/ns/rot/sa/between`);
  t.true(await verifiesWith(oldRoot!, join(stillOld.out, "svid.pem")));
  t.false(await verifiesWith(newRoot, join(stillOld.out, "svid.pem")));

  const activated = await mesh(["ca", "rotate", "activate", "--dir", dir]);
  t.is(activated.status, 0, activated.stderr);
  t.regex(activated.stdout, /^activate: CA #2 .* is now active/);
  const after = await issue(dir, `spiffe://${TD}/ns/rot/sa/new`);
  t.true(await verifiesWith(newRoot, join(after.out, "svid.pem")), "a new leaf chains to the new root");
  t.false(await verifiesWith(oldRoot!, join(after.out, "svid.pem")), "…and not to the old one");
  t.true(await verifiesWith(oldRoot!, join(before.out, "svid.pem")), "old leaves still verify");
  t.is(pemBlocks(readFileSync(join(after.out, "bundle.pem"), "utf8")).length, 2, "issued bundles carry both roots");

  const retired = okJson<{ step: string; ca: { id: number; state: string }; leavesBundleAt: string }>(await mesh(["ca", "rotate", "retire", "--dir", dir, "--json"]));
  t.deepEqual([retired.step, retired.ca.id, retired.ca.state], ["retire", 1, "retired"]);
  t.true(Date.parse(retired.leavesBundleAt) >= Date.parse(stillOld.not_after) - 1000, "stays until its last leaf expires");
  const afterRetire = await bundleCerts(dir);
  t.deepEqual(afterRetire.map(fingerprint).sort(), [oldRoot!, newRoot].map(fingerprint).sort());

  // another round, this time dropping the previous CA at once
  ok(await mesh(["ca", "rotate", "prepare", "--dir", dir]), "prepare");
  ok(await mesh(["ca", "rotate", "activate", "--dir", dir]), "activate");
  const forced = okJson<{ ca: { id: number; state: string }; leavesBundleAt: string }>(await mesh(["ca", "rotate", "retire", "--dir", dir, "--force", "--json"]));
  t.is(forced.ca.id, 2);
  t.true(Math.abs(Date.parse(forced.leavesBundleAt) - Date.now()) < 60_000, "leaves the bundle now");
  const final = await bundleCerts(dir);
  t.is(final.length, 2);
  t.false(final.some((c) => fingerprint(c) === fingerprint(newRoot)), "the force-retired CA left the bundle");
  t.true(final.some((c) => fingerprint(c) === fingerprint(oldRoot!)), "CA #1 still has unexpired leaves");
  const list = okJson<Listing>(await mesh(["ca", "list", "--dir", dir, "--json"]));
  t.deepEqual(
    list.cas.map((c) => [c.id, c.state, c.in_bundle]),
    [
      [1, "retired", true],
      [2, "retired", false],
      [3, "active", true],
    ],
  );
  const nothingLeft = await mesh(["ca", "rotate", "retire", "--dir", dir]);
  t.is(nothingLeft.status, 1);
  t.regex(nothingLeft.stderr, /^mesh: conflict: no previous CA/);
});

test("ca token create prints a single-use token once and stores only its hash", async (t) => {
  const dir = await newCa("token");
  const r = await mesh(["ca", "token", "create", "--dir", dir, "--node", "n1", "--json"]);
  t.is(r.status, 0, r.stderr);
  const tok = JSON.parse(r.stdout) as { token: string; node: string; expires_at: string };
  t.regex(tok.token, /^mjt_[A-Za-z0-9_-]{40,}$/);
  t.is(tok.node, "n1");
  t.true(Math.abs(Date.parse(tok.expires_at) - (Date.now() + 600_000)) < 60_000, "default TTL 10m");
  t.is(r.stdout.split(tok.token).length - 1, 1, "printed once");
  t.false(r.stderr.includes(tok.token));
  // nothing on disk (store, audit log, WAL files) holds the token itself
  for (const rel of readdirSync(dir, { recursive: true, encoding: "utf8" })) {
    const file = join(dir, rel);
    if (statSync(file).isFile()) t.false(readFileSync(file).includes(tok.token), `${rel} holds the token`);
  }
  const list = await mesh(["ca", "list", "--dir", dir, "--json"]);
  t.false(list.stdout.includes(tok.token));

  const plain = await mesh(["ca", "token", "create", "--dir", dir, "--node", "n2", "--ttl", "1h"]);
  t.is(plain.status, 0);
  t.regex(plain.stdout, /^mjt_\S+\n$/);
  t.not(plain.stdout.trim(), tok.token);
  const badNode = await mesh(["ca", "token", "create", "--dir", dir, "--node", "Bad Node!"]);
  t.is(badNode.status, 1);
  t.regex(badNode.stderr, /^mesh: invalid_argument: node name 'Bad Node!'/);
});

test("ca entry create, list (with --node) and delete", async (t) => {
  const dir = await newCa("entry");
  const create = async (sa: string, node: string, extra: string[] = []) =>
    okJson<{ id: string; spiffe_id: string; node: string; workload: string }>(
      await mesh(["ca", "entry", "create", "--dir", dir, "--spiffe-id", `spiffe://${TD}/ns/e/sa/${sa}`, "--node", node, "--workload", sa, "--json", ...extra]),
    );
  const web = await create("web", "n1", ["--ttl", "30m"]);
  const api = await create("api", "n2");
  t.is(web.spiffe_id, `spiffe://${TD}/ns/e/sa/web`);
  t.deepEqual([web.node, web.workload], ["n1", "web"]);
  t.not(web.id, api.id);

  type Row = { id: string; node: string; ttl_seconds: number | null };
  const all = okJson<Row[]>(await mesh(["ca", "entry", "list", "--dir", dir, "--json"]));
  t.deepEqual(all.map((e) => e.id).sort(), [web.id, api.id].sort());
  t.is(all.find((e) => e.id === web.id)?.ttl_seconds, 1800);
  t.is(all.find((e) => e.id === api.id)?.ttl_seconds, null);
  const onN1 = okJson<Row[]>(await mesh(["ca", "entry", "list", "--dir", dir, "--node", "n1", "--json"]));
  t.deepEqual(onN1.map((e) => e.id), [web.id]);

  const del = await mesh(["ca", "entry", "delete", "--dir", dir, "--id", web.id]);
  t.is(del.status, 0, del.stderr);
  t.is(del.stdout, `deleted ${web.id}\n`);
  const left = okJson<Row[]>(await mesh(["ca", "entry", "list", "--dir", dir, "--json"]));
  t.deepEqual(left.map((e) => e.id), [api.id]);
  const gone = await mesh(["ca", "entry", "delete", "--dir", dir, "--id", web.id]);
  t.is(gone.status, 1);
  t.regex(gone.stderr, /^mesh: not_found: no entry /);

  const foreign = await mesh(["ca", "entry", "create", "--dir", dir, "--spiffe-id", "spiffe://other.org/ns/e/sa/x", "--node", "n1", "--workload", "x"]);
  t.is(foreign.status, 1);
  t.regex(foreign.stderr, /^mesh: invalid_argument: .* is not in trust domain example\.org\n$/);
});
