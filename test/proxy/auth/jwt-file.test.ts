/** Local JWKS file: load at create, reload on change (watch and stat poll), last good kept, kid never a path. */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import test from "ava";
import type { ExecutionContext } from "ava";
import { FileKeySource } from "../../../proxy/auth/jwt-jwks-file.js";
import { isProxyError } from "../../../proxy/errors.js";
import type { AuthOutcome } from "../../../proxy/auth/types.js";
import {
  ISSUER,
  bearer,
  build,
  claims,
  eventually,
  FakeClock,
  handSignEs256,
  handToken,
  jwks,
  keys,
  makeKey,
  request,
  sign,
  summary,
  type Built,
} from "./jwt-fixtures.js";

const OK = `ok ${ISSUER}/alice`;

function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), "jwt-file-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Replaces the file the way deploy tools do: write beside it, then rename over it. */
function replace(path: string, content: unknown): void {
  writeFileSync(`${path}.tmp`, typeof content === "string" ? content : JSON.stringify(content));
  renameSync(`${path}.tmp`, path);
}

function setup(t: ExecutionContext, content: unknown = jwks(keys().ec), extra: Record<string, unknown> = {}): Built & { dir: string; path: string } {
  const dir = tempDir(t);
  const path = join(dir, "jwks.json");
  writeFileSync(path, JSON.stringify(content));
  const b = build({ issuer: ISSUER, jwks_file: "jwks.json", ...extra }, { clock: new FakeClock(), baseDir: dir });
  t.teardown(() => b.provider.close());
  return { ...b, dir, path };
}

async function run(b: Built, token: string): Promise<AuthOutcome> {
  return b.provider.authenticate(request({ headers: bearer(token) }), b.clock.now());
}

test("the file is read at create, relative to the config's folder (or absolute)", async (t) => {
  const s = setup(t);
  t.is(summary(await run(s, await sign(keys().ec, claims(s.clock)))), OK);
  const abs = build({ issuer: ISSUER, jwks_file: s.path }, { clock: s.clock, baseDir: "/nonexistent" });
  t.teardown(() => abs.provider.close());
  t.is(summary(await run(abs, await sign(keys().ec, claims(s.clock)))), OK);
});

test("an unusable file stops the provider from being created, with a reason and the path", (t) => {
  const dir = tempDir(t);
  const cases: Array<[string, string | undefined, string]> = [
    ["missing.json", undefined, "ENOENT"],
    ["text.json", "not json", "not JSON"],
    ["empty.json", JSON.stringify({ keys: [] }), "no usable"],
    ["private.json", JSON.stringify({ keys: [keys().ec.privateKey.export({ format: "jwk" })] }), "private key material"],
    ["big.json", " ".repeat(1024 * 1024 + 1), "larger than"],
  ];
  for (const [name, content, expected] of cases) {
    if (content !== undefined) writeFileSync(join(dir, name), content);
    const err = t.throws(() => build({ issuer: ISSUER, jwks_file: name }, { baseDir: dir }));
    t.true(isProxyError(err) && err.code === "invalid_config", name);
    t.true(err?.message.includes(expected) && err.message.includes(join(dir, name)), err?.message);
  }
});

test("a replaced file is picked up by the watcher; tokens of the removed key stop working", async (t) => {
  const s = setup(t);
  const old = await sign(keys().ec, claims(s.clock));
  t.is(summary(await run(s, old)), OK);
  const next = await sign(keys().ec2, claims(s.clock));
  t.is(summary(await run(s, next)), "fail 401 jwt_unknown_kid");
  replace(s.path, jwks(keys().ec2));
  // A file-system event, not the fake clock, drives this: wait for it (bounded).
  t.true(await eventually(async () => summary(await run(s, next)) === OK));
  t.is(summary(await run(s, old)), "fail 401 jwt_unknown_kid", "the cached verification was dropped with the key");
});

test("refreshKeys re-reads at once; a broken file keeps the last good key set", async (t) => {
  const s = setup(t);
  s.provider.close(); // no watcher: only explicit reloads in this test
  const token = await sign(keys().ec, claims(s.clock));
  writeFileSync(s.path, '{"keys": [');
  await s.provider.refreshKeys();
  t.truthy(s.provider.keys.lastError);
  t.is(summary(await run(s, token)), OK);
  writeFileSync(s.path, JSON.stringify(jwks(keys().ec, keys().ec2)));
  await s.provider.refreshKeys();
  t.is(s.provider.keys.lastError, undefined);
  t.is(summary(await run(s, await sign(keys().ec2, claims(s.clock)))), OK);
  rmSync(s.path);
  await s.provider.refreshKeys();
  t.true(s.provider.keys.lastError?.includes("ENOENT"));
  t.is(summary(await run(s, token)), OK);
});

test("the stat poll re-reads only when the file changed", async (t) => {
  const dir = tempDir(t);
  const path = join(dir, "k.json");
  writeFileSync(path, JSON.stringify(jwks(keys().ec)));
  let changes = 0;
  const src = new FileKeySource(path, () => changes++);
  await src.checkForChange();
  t.is(src.reads, 0);
  replace(path, jwks(keys().ec, keys().ec2));
  await src.checkForChange();
  t.is(src.reads, 1);
  t.is(changes, 1);
  t.deepEqual(src.current().all.map((k) => k.kid), ["ec-1", "ec-2"]);
  await src.checkForChange();
  t.is(src.reads, 1);
  // Same keys rewritten: read, but no change reported (the cache is kept).
  writeFileSync(path, JSON.stringify(jwks(keys().ec, keys().ec2), null, 2));
  await src.checkForChange();
  t.is(src.reads, 2);
  t.is(changes, 1);
});

test("kid is never a path: a file named like the kid, holding the attacker's key, is not read", async (t) => {
  const s = setup(t);
  s.provider.close();
  const attacker = makeKey("ec256", "evil.json");
  writeFileSync(join(s.dir, "evil.json"), JSON.stringify(jwks(attacker)));
  const body = claims(s.clock) as Record<string, unknown>;
  const plain = await run(s, handSignEs256(attacker, { alg: "ES256", kid: "nope" }, body));
  t.is(summary(plain), "fail 401 jwt_unknown_kid");
  for (const kid of ["evil.json", "./evil.json", `../${basename(s.dir)}/evil.json`, join(s.dir, "evil.json"), "file:///etc/passwd", "../../../../etc/passwd"]) {
    t.deepEqual(await run(s, handSignEs256(attacker, { alg: "ES256", kid }, body)), plain, kid);
  }
  t.is((s.provider.keys as FileKeySource).reads, 0, "no file was read for any of them");
});

test("HS256 with an oct key from the local file, when listed", async (t) => {
  const secret = Buffer.alloc(48, 9);
  const s = setup(t, { keys: [{ kty: "oct", kid: "shared", k: secret.toString("base64url") }] }, { algorithms: ["HS256"] });
  const c = claims(s.clock) as Record<string, unknown>;
  t.is(summary(await run(s, handToken({ alg: "HS256", kid: "shared" }, c, secret))), OK);
  t.is(summary(await run(s, handToken({ alg: "HS256", kid: "shared" }, c, Buffer.alloc(48, 8)))), "fail 401 jwt_bad_signature");
  t.is(summary(await run(s, handToken({ alg: "HS384", kid: "shared" }, c, secret))), "fail 401 jwt_alg_not_allowed");
});
