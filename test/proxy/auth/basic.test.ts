import test, { type ExecutionContext } from "ava";
import bcrypt from "bcryptjs";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BasicProvider, basicProvider, hashPassword, type BasicConfigInput, type BasicDeps } from "../../../proxy/auth/basic.js";
import type { FileReport } from "../../../proxy/auth/htpasswd.js";
import { verifyPassword, type StoredHash } from "../../../proxy/auth/htpasswd-hash.js";
import type { AuthFailed, AuthOk, AuthOutcome } from "../../../proxy/auth/types.js";
import { FakeClock, request } from "../filters/fixtures.js";

/** From Apache htpasswd: `htpasswd -Bbn testuser testpassword` (a docker/cli test fixture). */
const APACHE_2Y = "$2y$05$sBsSqk0OpSD1uTZkHXc4FeJ0Z70wLQdAX/82UiHuQOKbNbBrzs63m";
/** passlib's documented scrypt example for "password" (ln=8). */
const PASSLIB_LN8 = "$scrypt$ln=8,r=8,p=1$WKs1xljLudd6z9kbY0wpJQ$yCR4iDZYDKv+iEJj6yHY0lv/epnfB6f/w1EbXrsJOuQ";
const MIN = 60_000;
const CHALLENGE = 'Basic realm="mesh", charset="UTF-8"';

let CAROL = "";
let DAVE = "";
test.before(async () => {
  CAROL = await bcrypt.hash("carol-pw", 4);
  DAVE = await bcrypt.hash("dave-pw", 4);
});

interface Harness {
  readonly p: BasicProvider;
  readonly clock: FakeClock;
  readonly sleeps: number[];
  readonly verified: StoredHash[];
  readonly reports: FileReport[];
  readonly path: string;
}

function users(): string {
  return `alice:${APACHE_2Y}\nbob:${PASSLIB_LN8}\ncarol:${CAROL}\ndave:${DAVE}\n`;
}

function setup(t: ExecutionContext, cfg: Partial<BasicConfigInput> = {}, file = users()): Harness {
  const dir = mkdtempSync(join(tmpdir(), "basic-"));
  const path = join(dir, "users.htpasswd");
  writeFileSync(path, file, { mode: 0o600 });
  const clock = new FakeClock();
  const sleeps: number[] = [];
  const verified: StoredHash[] = [];
  const reports: FileReport[] = [];
  const config = basicProvider.schema.parse({ htpasswd_file: "users.htpasswd", ...cfg });
  const deps: BasicDeps = {
    clock: clock.now,
    baseDir: dir,
    watch: false,
    report: (r: FileReport) => reports.push(r),
    sleep: async (ms: number) => void sleeps.push(ms),
    verify: (pw: string, h: StoredHash) => {
      verified.push(h);
      return verifyPassword(pw, h);
    },
  };
  const p = basicProvider.create("users", config, deps);
  if (!(p instanceof BasicProvider)) throw new Error("expected a BasicProvider");
  t.teardown(() => {
    p.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { p, clock, sleeps, verified, reports, path };
}

function basic(user: string, password: string): string {
  return "Basic " + Buffer.from(`${user}:${password}`, "utf8").toString("base64");
}

function login(h: Harness, authorization: string | undefined, remoteAddress = "10.1.2.3"): Promise<AuthOutcome> {
  const req = request({ headers: authorization === undefined ? {} : { authorization }, remoteAddress });
  return Promise.resolve(h.p.authenticate(req, h.clock.now()));
}

function ok(t: ExecutionContext, o: AuthOutcome): AuthOk {
  if (o.kind !== "ok") t.fail(`expected ok, got ${JSON.stringify(o)}`);
  return o as AuthOk;
}

function failed(t: ExecutionContext, o: AuthOutcome, code: string): AuthFailed {
  if (o.kind !== "fail") t.fail(`expected ${code}, got ${JSON.stringify(o)}`);
  t.is((o as AuthFailed).code, code);
  return o as AuthFailed;
}

test("schema: defaults, strict keys, bounded values with key paths", (t) => {
  const c = basicProvider.schema.parse({ htpasswd_file: "u" });
  t.like(c, { realm: "mesh", hide_credentials: true, verify_cache: 5 * MIN });
  t.deepEqual(c.lockout, { slow_after: 3, slow_delay: 1000, max_delay: 5000, lock_after: 10, lock_time: 15 * MIN, window: 15 * MIN, max_tracked: 100_000 });
  const bad = (raw: unknown) => {
    const r = basicProvider.schema.safeParse(raw);
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
  };
  t.deepEqual(bad({ htpasswd_file: "u", lockout: { lock_after: 3 } }), []);
  t.regex(bad({ htpasswd_file: "u", passwords: {} }).join(), /passwords/);
  t.regex(bad({ htpasswd_file: "u", realm: 'a"b' }).join(), /^realm: /);
  t.regex(bad({ htpasswd_file: "u", lockout: { slow_delay: 1 } }).join(), /^lockout\.slow_delay: /);
  t.regex(bad({ htpasswd_file: "u", lockout: { lock_after: 5000 } }).join(), /^lockout\.lock_after: /);
  t.regex(bad({ htpasswd_file: "u", lockout: { lockout_time: "1m" } }).join(), /lockout/);
  t.regex(bad({ htpasswd_file: "u", verify_cache: "2h" }).join(), /^verify_cache: /);
  t.regex(bad({}).join(), /^htpasswd_file: /);
});

test("bcrypt ($2y$ from Apache htpasswd, $2b$ from bcryptjs) and scrypt users log in", async (t) => {
  const h = setup(t);
  for (const [user, pw] of [["alice", "testpassword"], ["bob", "password"], ["carol", "carol-pw"]] as const) {
    const o = ok(t, await login(h, basic(user, pw)));
    t.deepEqual(o, { kind: "ok", principal: user, consumer: user, method: "basic", stripHeaders: ["authorization"] });
  }
});

test("hide_credentials false keeps the Authorization header", async (t) => {
  const h = setup(t, { hide_credentials: false });
  t.is(ok(t, await login(h, basic("alice", "testpassword"))).stripHeaders, undefined);
});

test("no Authorization header: missing, nothing checked", async (t) => {
  const h = setup(t);
  t.deepEqual(await login(h, undefined), { kind: "missing" });
  t.is(h.verified.length, 0);
});

test("malformed Authorization headers: 401 basic_malformed with the challenge, no check, no count", async (t) => {
  const h = setup(t);
  const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
  const cases: Array<[string, RegExp]> = [
    ["Bearer abc.def.ghi", /not the Basic scheme/],
    ["Basic", /no credentials/],
    ["Basic !!!notbase64", /base64/],
    ["Basic YWxpY2U6c2VjcmV0=", /base64/], // padding where none belongs
    [`Basic ${b64("alice-no-colon")}`, /no ':'/],
    [`Basic ${b64(":nouser")}`, /empty user name/],
    [`Basic ${Buffer.from([0x61, 0x3a, 0xff, 0xfe]).toString("base64")}`, /UTF-8/],
    [`Basic ${b64("al\u0001ice:pw")}`, /control characters/],
    [`Basic ${b64(`${"u".repeat(257)}:pw`)}`, /user name over 256/],
    [`Basic ${b64(`alice:${"p".repeat(4000)}`)}`, /over 4096 bytes/],
  ];
  for (const [header, why] of cases) {
    const f = failed(t, await login(h, header), "basic_malformed");
    t.is(f.status, 401);
    t.is(f.challenge, CHALLENGE);
    t.regex(f.reason, why, header.slice(0, 40));
    t.is(f.principal, undefined);
  }
  const arr = h.p.authenticate(request({ headers: { authorization: ["Basic a", "Basic b"] as unknown as string } }), h.clock.now());
  t.regex(failed(t, await arr, "basic_malformed").reason, /more than one/);
  t.is(h.verified.length, 0);
  t.deepEqual(h.p.status().tracked, { users: 0, addresses: 0 });
  // "basic" is case-insensitive and unpadded base64 is read.
  ok(t, await login(h, `bAsIc ${b64("alice:testpassword").replace(/=+$/, "")}`));
});

test("wrong password and unknown user answer alike; the unknown user is checked against a dummy of the usual cost", async (t) => {
  const h = setup(t);
  const wrong = failed(t, await login(h, basic("alice", "nope")), "basic_invalid");
  t.like(wrong, { status: 401, reason: "invalid user name or password", challenge: CHALLENGE, principal: "alice" });
  t.is(h.verified.length, 1);
  t.is(h.verified[0]!.text, APACHE_2Y);

  const unknown = failed(t, await login(h, basic("zoe", "whatever")), "basic_invalid");
  t.like(unknown, { status: 401, reason: wrong.reason, challenge: CHALLENGE });
  t.is(unknown.principal, undefined, "an unknown name is not recorded (it may be a password)");
  t.is(h.verified.length, 2, "the unknown user still paid for one hash check");
  const dummy = h.verified[1]!;
  t.like(dummy, { kind: "bcrypt", cost: 4 }, "cost of most users in the file (carol, dave)");
  t.regex(dummy.text, /^\$2b\$04\$[./A-Za-z0-9]{53}$/, "a well-formed hash, so bcrypt really runs at that cost");
  t.false([APACHE_2Y, PASSLIB_LN8, CAROL, DAVE].includes(dummy.text));
  t.is(h.p.lockout.userFailures("zoe", h.clock.ms), 1, "unknown users are counted like real ones");
});

test("slow-down and lockout through the provider: fake sleep, Retry-After, no check while locked, reset on success", async (t) => {
  const h = setup(t);
  for (let i = 0; i < 10; i++) failed(t, await login(h, basic("alice", `guess${i}`)), "basic_invalid");
  t.deepEqual(h.sleeps, [1000, 2000, 3000, 4000, 5000, 5000, 5000]);
  t.is(h.verified.length, 10);

  h.clock.advance(90_500);
  const locked = failed(t, await login(h, basic("alice", "testpassword"), "10.9.9.9"), "basic_locked_out");
  t.like(locked, { status: 429, principal: "alice", headers: { "retry-after": String(Math.ceil((15 * MIN - 90_500) / 1000)) } });
  t.regex(locked.reason, /user/);
  t.is(h.verified.length, 10, "the password was not checked while locked (even the right one)");
  failed(t, await login(h, basic("bob", "password")), "basic_locked_out"); // same address 10.1.2.3
  ok(t, await login(h, basic("bob", "password"), "10.7.7.7"));

  h.clock.advance(15 * MIN);
  ok(t, await login(h, basic("alice", "testpassword")));
  t.is(h.p.lockout.userFailures("alice", h.clock.ms), 0);
  t.is(h.p.lockout.addressFailures("10.1.2.3", h.clock.ms), 0);
});

test("a success clears the counts before a lock is reached", async (t) => {
  const h = setup(t, { verify_cache: "0s" });
  for (let i = 0; i < 9; i++) await login(h, basic("carol", `x${i}`));
  t.is(h.p.lockout.userFailures("carol", h.clock.ms), 9);
  ok(t, await login(h, basic("carol", "carol-pw")));
  t.is(h.p.lockout.userFailures("carol", h.clock.ms), 0);
  h.sleeps.length = 0;
  for (let i = 0; i < 4; i++) await login(h, basic("carol", `y${i}`));
  t.deepEqual(h.sleeps, [1000], "counting starts again from zero");
});

test("failures leave the window: the delay falls back", async (t) => {
  const h = setup(t);
  for (let i = 0; i < 5; i++) await login(h, basic("dave", `x${i}`));
  t.deepEqual(h.sleeps, [1000, 2000]);
  h.clock.advance(15 * MIN);
  await login(h, basic("dave", "again"));
  t.deepEqual(h.sleeps, [1000, 2000], "the 6th failure, 15 minutes later, counts as the first");
});

test("parallel guesses are counted before they are checked, so they meet the lock", async (t) => {
  const h = setup(t);
  const all = await Promise.all(Array.from({ length: 15 }, (_, i) => login(h, basic("carol", `parallel${i}`))));
  t.is(all.filter((o) => o.kind === "fail" && o.code === "basic_invalid").length, 10);
  t.is(all.filter((o) => o.kind === "fail" && o.code === "basic_locked_out").length, 5);
  t.is(h.verified.length, 10);
});

test("identical checks in flight share one computation and one count", async (t) => {
  const h = setup(t);
  const [a, b] = await Promise.all([login(h, basic("dave", "same-guess")), login(h, basic("dave", "same-guess"))]);
  failed(t, a, "basic_invalid");
  failed(t, b, "basic_invalid");
  t.is(h.verified.length, 1);
  t.is(h.p.lockout.userFailures("dave", h.clock.ms), 1);
  const good = await Promise.all([login(h, basic("dave", "dave-pw")), login(h, basic("dave", "dave-pw"))]);
  good.forEach((o) => ok(t, o));
  t.is(h.verified.length, 2);
});

test("verify cache: a warm success is answered synchronously without a hash check; expiry; wrong passwords not cached", async (t) => {
  const h = setup(t);
  ok(t, await login(h, basic("alice", "testpassword")));
  t.is(h.verified.length, 1);
  const warm = h.p.authenticate(request({ headers: { authorization: basic("alice", "testpassword") } }), h.clock.now());
  t.false(warm instanceof Promise, "cache hit answers synchronously");
  ok(t, warm as AuthOutcome);
  t.is(h.verified.length, 1);
  failed(t, await login(h, basic("alice", "testpassword2")), "basic_invalid");
  failed(t, await login(h, basic("alice", "testpassword2")), "basic_invalid");
  t.is(h.verified.length, 3, "failures are checked every time");
  t.is(h.p.status().cacheEntries, 1);
  h.clock.advance(5 * MIN);
  ok(t, await login(h, basic("alice", "testpassword")));
  t.is(h.verified.length, 4, "expired after verify_cache");
});

test("verify cache off: every request is checked", async (t) => {
  const h = setup(t, { verify_cache: "0s" });
  ok(t, await login(h, basic("carol", "carol-pw")));
  ok(t, await login(h, basic("carol", "carol-pw")));
  t.is(h.verified.length, 2);
  t.is(h.p.status().cacheEntries, 0);
});

test("a reloaded file invalidates the cache; a changed password takes effect; a bad file keeps the last good", async (t) => {
  const h = setup(t);
  ok(t, await login(h, basic("alice", "testpassword")));
  ok(t, await login(h, basic("carol", "carol-pw")));
  t.is(h.verified.length, 2);

  const newAlice = await hashPassword("new-alice-pw", "scrypt", { ln: 8 });
  writeFileSync(h.path, `alice:${newAlice}\ncarol:${CAROL}\n`);
  await h.p.refresh();
  t.is(h.p.status().generation, 2);
  t.is(h.p.status().cacheEntries, 0);
  failed(t, await login(h, basic("alice", "testpassword")), "basic_invalid");
  ok(t, await login(h, basic("alice", "new-alice-pw")));
  ok(t, await login(h, basic("carol", "carol-pw")));
  t.is(h.verified.length, 5, "carol was checked again after the reload");
  failed(t, await login(h, basic("bob", "password")), "basic_invalid");

  writeFileSync(h.path, `alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n`);
  await h.p.refresh();
  await h.p.refresh();
  t.regex(h.p.status().problem ?? "", /line 1 \(user "alice"\): SHA-1/);
  t.is(h.reports.filter((r) => r.code === "htpasswd_reload_failed").length, 1);
  ok(t, await login(h, basic("alice", "new-alice-pw"))); // the last good table is still in use
});

test("the file path resolves against baseDir; a missing or bad file refuses to start", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "basic-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = basicProvider.schema.parse({ htpasswd_file: "nope.htpasswd" });
  t.throws(() => basicProvider.create("u", config, { clock: () => new Date(), baseDir: dir }), { message: new RegExp(`${dir}/nope\\.htpasswd: cannot read`) });
  writeFileSync(join(dir, "plain.htpasswd"), "# header\nadmin:admin\n", { mode: 0o600 });
  const plain = basicProvider.schema.parse({ htpasswd_file: "plain.htpasswd" });
  const err = t.throws(() => basicProvider.create("u", plain, { clock: () => new Date(), baseDir: dir }));
  t.regex(err!.message, /line 2 \(user "admin"\): plaintext/);
});

test("no secret in any outcome: reasons, codes, challenges, headers, principals", async (t) => {
  const h = setup(t, { lockout: { lock_after: 3 } });
  const outcomes: AuthOutcome[] = [];
  const secrets = ["testpassword", "hunter2-secret", APACHE_2Y, PASSLIB_LN8, CAROL];
  const headers = [
    basic("alice", "testpassword"),
    basic("alice", "hunter2-secret"),
    basic("hunter2-secret", "x"),
    "Bearer hunter2-secret",
    "Basic hunter2-secret!",
    "Basic " + Buffer.from("hunter2-secret").toString("base64"),
  ];
  for (const header of headers) outcomes.push(await login(h, header));
  for (let i = 0; i < 4; i++) outcomes.push(await login(h, basic("alice", "hunter2-secret" + i)));
  outcomes.push(await login(h, basic("alice", "testpassword")));
  t.true(outcomes.some((o) => o.kind === "fail" && o.code === "basic_locked_out"));
  const text = JSON.stringify(outcomes) + JSON.stringify(h.reports) + JSON.stringify(h.p.status());
  for (const s of secrets) t.false(text.includes(s), `leaked ${s.slice(0, 12)}`);
  for (const header of headers) t.false(text.includes(header.slice(6)), "leaked a credential");
});

test("a warm check is cheap (loose bound for a loaded machine: < 1 ms on average over 2,000 calls)", async (t) => {
  const h = setup(t);
  ok(t, await login(h, basic("alice", "testpassword")));
  const req = request({ headers: { authorization: basic("alice", "testpassword") } });
  const now = h.clock.now();
  const start = process.hrtime.bigint();
  for (let i = 0; i < 2000; i++) {
    const o = h.p.authenticate(req, now);
    if (o instanceof Promise || o.kind !== "ok") t.fail("expected a synchronous ok");
  }
  const avgUs = Number(process.hrtime.bigint() - start) / 1000 / 2000;
  t.true(avgUs < 1000, `average ${avgUs.toFixed(1)} µs`);
  t.is(h.verified.length, 1);
});
