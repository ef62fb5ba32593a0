import test from "ava";
import bcrypt from "bcryptjs";
import { randomBytes, scryptSync } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HtpasswdFile, parseHtpasswd, type FileReport } from "../../../proxy/auth/htpasswd.js";
import { dummyHashLike, hashPassword, parseStoredHash, verifyPassword, type StoredHash } from "../../../proxy/auth/htpasswd-hash.js";
import { isProxyError } from "../../../proxy/errors.js";

/** From Apache htpasswd: `htpasswd -Bbn testuser testpassword` (a test fixture of docker/cli). */
const APACHE_2Y = "$2y$05$sBsSqk0OpSD1uTZkHXc4FeJ0Z70wLQdAX/82UiHuQOKbNbBrzs63m";
/** passlib's documented example: scrypt.using(rounds=8).hash("password"). */
const PASSLIB_LN8 = "$scrypt$ln=8,r=8,p=1$WKs1xljLudd6z9kbY0wpJQ$yCR4iDZYDKv+iEJj6yHY0lv/epnfB6f/w1EbXrsJOuQ";
/** passlib's documented example at its default cost: scrypt.hash("password"). */
const PASSLIB_LN16 = "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E";

function parsed(text: string): StoredHash {
  const r = parseStoredHash(text);
  if (!r.ok) throw new Error(r.problem);
  return r.hash;
}

function problemOf(text: string): string {
  const r = parseStoredHash(text);
  if (r.ok) throw new Error("expected a refusal");
  return r.problem;
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "htpasswd-"));
}

test("an Apache htpasswd $2y$ line verifies, and a wrong password does not", async (t) => {
  const h = parsed(APACHE_2Y);
  t.like(h, { kind: "bcrypt", cost: 5 });
  t.true(await verifyPassword("testpassword", h));
  t.false(await verifyPassword("testpassworD", h));
  t.false(await verifyPassword("", h));
});

test("bcrypt $2b$ and $2a$ made by bcryptjs verify", async (t) => {
  const b = await bcrypt.hash("correct horse", 4);
  t.regex(b, /^\$2b\$04\$/);
  t.true(await verifyPassword("correct horse", parsed(b)));
  t.false(await verifyPassword("correct horsE", parsed(b)));
  // $2a$ and $2b$ differ only for passwords over 255 bytes; the same digest under $2a$ still matches.
  const a = "$2a$" + b.slice(4);
  t.true(await verifyPassword("correct horse", parsed(a)));
});

test("passlib scrypt vectors verify with node:crypto", async (t) => {
  const ln8 = parsed(PASSLIB_LN8);
  t.like(ln8, { kind: "scrypt", ln: 8, r: 8, p: 1 });
  t.true(await verifyPassword("password", ln8));
  t.false(await verifyPassword("Password", ln8));
  t.true(await verifyPassword("password", parsed(PASSLIB_LN16)));
});

test("an scrypt line built independently with node:crypto verifies (UTF-8 password)", async (t) => {
  const salt = randomBytes(16);
  const key = scryptSync("pässwörd", salt, 32, { N: 1024, r: 8, p: 1 });
  const enc = (b: Buffer) => b.toString("base64").replace(/=+$/, "");
  const text = `$scrypt$ln=10,r=8,p=1$${enc(salt)}$${enc(key)}`;
  t.true(await verifyPassword("pässwörd", parsed(text)));
  t.false(await verifyPassword("passwörd", parsed(text)));
});

test("hashPassword makes lines the loader accepts and that verify", async (t) => {
  const s = await hashPassword("hunter2", "scrypt", { ln: 10 });
  t.regex(s, /^\$scrypt\$ln=10,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
  t.true(await verifyPassword("hunter2", parsed(s)));
  const b = await hashPassword("hunter2", "bcrypt", { cost: 4 });
  t.regex(b, /^\$2b\$04\$/);
  t.true(await bcrypt.compare("hunter2", b), "bcryptjs agrees");
  t.true(await verifyPassword("hunter2", parsed(b)));
  const def = await hashPassword("x", "scrypt");
  t.regex(def, /^\$scrypt\$ln=15,r=8,p=1\$/);
});

test("hashPassword refuses what would be unsafe or unloadable", async (t) => {
  await t.throwsAsync(hashPassword("a".repeat(73), "bcrypt", { cost: 4 }), { message: /72 bytes/ });
  await t.throwsAsync(hashPassword("x", "bcrypt", { cost: 3 }), { message: /cost/ });
  await t.throwsAsync(hashPassword("x", "bcrypt", { cost: 16 }), { message: /cost/ });
  await t.throwsAsync(hashPassword("x", "scrypt", { ln: 21 }), { message: /ln=21/ });
  await t.throwsAsync(hashPassword("x", "scrypt", { ln: 18, r: 8 }), { message: /MiB/ });
});

test("weak and unknown hash kinds are refused by name, without quoting the hash", (t) => {
  const cases: Array<[string, RegExp]> = [
    ["$apr1$abcdefgh$0123456789abcdefghijkl", /MD5-apr1/],
    ["{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", /SHA-1/],
    ["$1$saltsalt$0123456789abcdefghijkl", /MD5 crypt/],
    ["$5$rounds=5000$salt$hash", /SHA-crypt/],
    ["$6$salt$hash", /SHA-crypt/],
    ["abJnggxhB/yWI", /DES crypt/],
    ["hunter2", /plaintext/],
    ["$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", /argon2/],
    ["$7$CU..../....salt$hash", /unknown hash format/],
    ["$2x$05$sBsSqk0OpSD1uTZkHXc4FeJ0Z70wLQdAX/82UiHuQOKbNbBrzs63m", /unsupported bcrypt variant/],
    ["$2b$05$tooShort", /malformed bcrypt/],
    ["$2b$03$sBsSqk0OpSD1uTZkHXc4FeJ0Z70wLQdAX/82UiHuQOKbNbBrzs63m", /cost 3/],
    ["$2b$16$sBsSqk0OpSD1uTZkHXc4FeJ0Z70wLQdAX/82UiHuQOKbNbBrzs63m", /cost 16/],
    ["$scrypt$N=16384,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", /malformed scrypt/],
    ["$scrypt$ln=18,r=8,p=1$WKs1xljLudd6z9kbY0wpJQ$yCR4iDZYDKv+iEJj6yHY0lv/epnfB6f/w1EbXrsJOuQ", /MiB/],
    ["$scrypt$ln=8,r=8,p=1$c2FsdA$yCR4iDZYDKv+iEJj6yHY0lv/epnfB6f/w1EbXrsJOuQ", /salt/],
    ["$scrypt$ln=8,r=8,p=1$WKs1xljLudd6z9kbY0wpJQ$aGFzaA", /key/],
    ["", /empty/],
  ];
  for (const [text, re] of cases) {
    const problem = problemOf(text);
    t.regex(problem, re, text);
    if (text.length > 6) t.false(problem.includes(text), `the refusal of ${text} quotes it`);
  }
});

test("parseHtpasswd refuses bad lines with their line numbers, after comments and blank lines", (t) => {
  const text = [
    "# users of the demo", // 1
    "", // 2
    `alice:${APACHE_2Y}`, // 3
    "bob:$apr1$abcdefgh$0123456789abcdefghijkl", // 4
    "carol:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", // 5
    "dave:plainTextSecret", // 6
    "justonefield", // 7
    `alice:${PASSLIB_LN8}`, // 8
    "erin:abJnggxhB/yWI", // 9
    "frank:realm:0123456789abcdef0123456789abcdef", // 10
  ].join("\n");
  const err = t.throws(() => parseHtpasswd(text, "users.htpasswd"));
  t.true(isProxyError(err));
  const m = err!.message;
  t.regex(m, /^users\.htpasswd: /);
  t.regex(m, /line 4 \(user "bob"\): MD5-apr1/);
  t.regex(m, /line 5 \(user "carol"\): SHA-1/);
  t.regex(m, /line 6 \(user "dave"\): plaintext/);
  t.regex(m, /line 7: expected user:hash/);
  t.regex(m, /line 8 \(user "alice"\): the user is listed twice/);
  t.regex(m, /line 9 \(user "erin"\): DES crypt/);
  t.regex(m, /line 10 \(user "frank"\): .*htdigest/);
  t.notRegex(m, /line 3/);
  for (const secret of ["plainTextSecret", "justonefield", "W6ph5Mm5Pz8GgiULbPgzG37mj9g", "abJnggxhB", "0123456789abcdefghijkl"]) {
    t.false(m.includes(secret), `error quotes ${secret}`);
  }
});

test("parseHtpasswd reads CRLF, a BOM and trailing spaces; checks user names", (t) => {
  const table = parseHtpasswd(`\ufeffalice:${APACHE_2Y}  \r\nbob:${PASSLIB_LN8}\r\n`, "f");
  t.deepEqual([...table.users.keys()], ["alice", "bob"]);
  t.throws(() => parseHtpasswd(`:${APACHE_2Y}`, "f"), { message: /line 1: the user name/ });
  t.throws(() => parseHtpasswd(`a\tb:${APACHE_2Y}`, "f"), { message: /line 1: the user name/ });
  t.throws(() => parseHtpasswd(`x:${"a".repeat(1100)}`, "f"), { message: /line 1: longer than 1024/ });
  const many = Array.from({ length: 15 }, (_, i) => `u${i}:plain`).join("\n");
  t.throws(() => parseHtpasswd(many, "f"), { message: /and 5 more$/ });
});

test("the dummy hash copies the most common cost and matches nothing", async (t) => {
  const b4 = await bcrypt.hash("a", 4);
  const table = parseHtpasswd(`a:${b4}\nb:${await bcrypt.hash("b", 4)}\nc:${APACHE_2Y}\n`, "f");
  t.like(table.dummy, { kind: "bcrypt", cost: 4 });
  t.regex(table.dummy.text, /^\$2b\$04\$[./A-Za-z0-9]{53}$/);
  t.true(parseStoredHash(table.dummy.text).ok);
  t.false(await verifyPassword("a", table.dummy));
  const s = dummyHashLike(parsed(PASSLIB_LN8));
  t.like(s, { kind: "scrypt", ln: 8, r: 8, p: 1 });
  t.not(s.text, PASSLIB_LN8);
  t.false(await verifyPassword("password", s));
  t.like(parseHtpasswd("# empty\n", "f").dummy, { kind: "bcrypt", cost: 10 });
});

test("HtpasswdFile refuses a bad file at start, with the line number", (t) => {
  const dir = tempDir();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "users");
  writeFileSync(path, `ok:${APACHE_2Y}\nbad:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n`, { mode: 0o600 });
  t.throws(() => new HtpasswdFile({ path, pollMs: 0, watch: false }), { message: /line 2 \(user "bad"\): SHA-1/ });
  t.throws(() => new HtpasswdFile({ path: join(dir, "missing"), pollMs: 0, watch: false }), { message: /cannot read.*ENOENT/ });
  writeFileSync(path, "#".repeat(4 * 1024 * 1024 + 1));
  t.throws(() => new HtpasswdFile({ path, pollMs: 0, watch: false }), { message: /larger than/ });
});

test("HtpasswdFile reloads a changed file, keeps the last good table and reports a problem once", async (t) => {
  const dir = tempDir();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "users");
  writeFileSync(path, `alice:${APACHE_2Y}\n`, { mode: 0o600 });
  const reports: FileReport[] = [];
  let changes = 0;
  const f = new HtpasswdFile({ path, pollMs: 0, watch: false, report: (r) => reports.push(r), onChange: () => changes++ });
  t.teardown(() => f.close());
  t.deepEqual(reports, [], "0600: no permission warning");
  await f.refresh();
  t.is(f.generation, 1, "unchanged file: no reload");

  writeFileSync(path, `alice:${APACHE_2Y}\nbob:${PASSLIB_LN8}\n`);
  await f.refresh();
  t.is(f.generation, 2);
  t.is(changes, 1);
  t.deepEqual([...f.table.users.keys()], ["alice", "bob"]);

  writeFileSync(path, `alice:${APACHE_2Y}\nmallory:letmein\n`);
  await f.refresh();
  await f.refresh();
  writeFileSync(path, `alice:${APACHE_2Y}\nmallory:letmein\n\n`);
  await f.refresh();
  const failures = reports.filter((r) => r.code === "htpasswd_reload_failed");
  t.is(failures.length, 1, "the same problem is reported once");
  t.regex(failures[0]!.message, /line 2 \(user "mallory"\): plaintext.*keeping the last good/);
  t.false(failures[0]!.message.includes("letmein"));
  t.is(f.generation, 2);
  t.deepEqual([...f.table.users.keys()], ["alice", "bob"], "last good table kept");
  t.truthy(f.problem);

  unlinkSync(path);
  await f.refresh();
  t.regex(reports.at(-1)!.message, /ENOENT/);
  t.is(f.table.users.size, 2);

  writeFileSync(path, `carol:${APACHE_2Y}\n`, { mode: 0o600 });
  await f.refresh();
  t.is(f.generation, 3);
  t.is(f.problem, undefined);
  t.deepEqual([...f.table.users.keys()], ["carol"]);
  t.is(reports.at(-1)!.code, "htpasswd_reloaded");
});

test("HtpasswdFile warns once when the file is readable by others", (t) => {
  const dir = tempDir();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "users");
  writeFileSync(path, `alice:${APACHE_2Y}\n`);
  chmodSync(path, 0o644);
  const reports: FileReport[] = [];
  const f = new HtpasswdFile({ path, pollMs: 0, watch: false, report: (r) => reports.push(r) });
  f.close();
  t.is(reports.length, 1);
  t.like(reports[0], { level: "warn", code: "htpasswd_permissions" });
  t.regex(reports[0]!.message, /mode 0644.*chmod 600/);
});

test("HtpasswdFile follows a replaced file by itself (watch and poll)", async (t) => {
  const dir = tempDir();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "users");
  writeFileSync(path, `alice:${APACHE_2Y}\n`, { mode: 0o600 });
  let changed!: () => void;
  const done = new Promise<void>((r) => (changed = r));
  const f = new HtpasswdFile({ path, pollMs: 100, onChange: () => changed() });
  t.teardown(() => f.close());
  // Replaced the way editors and config maps do it: a new file renamed over the old one.
  writeFileSync(join(dir, "users.tmp"), `bob:${APACHE_2Y}\n`, { mode: 0o600 });
  const { renameSync } = await import("node:fs");
  renameSync(join(dir, "users.tmp"), path);
  const timeout = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 5000).unref());
  t.not(await Promise.race([done, timeout]), "timeout");
  t.deepEqual([...f.table.users.keys()], ["bob"]);
});
