/** The hmac provider's config block and consumers file: validation, secret files, reload on change, status. */
import test from "ava";
import { createHmac } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RELOAD_CHECK_MS } from "../../../proxy/auth/consumers.js";
import { HmacProvider, hmacProvider } from "../../../proxy/auth/hmac.js";
import { isProxyError } from "../../../proxy/errors.js";
import type { FilterRequest } from "../../../proxy/filters/types.js";
import { FakeClock, request } from "../filters/fixtures.js";

const NOW = Date.UTC(2026, 3, 1, 9, 0, 0);

function tmp(): string {
  return mkdtempSync(join(tmpdir(), "hmac-consumers-"));
}

function issues(raw: unknown): string[] {
  const r = hmacProvider.schema.safeParse(raw);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
}

function create(dir: string, clock = new FakeClock(NOW), extra: Record<string, unknown> = {}): HmacProvider {
  const config = hmacProvider.schema.parse({ consumers_file: "consumers.yaml", replay_window: "0s", ...extra });
  return hmacProvider.create("files", config, { clock: clock.now, baseDir: dir }) as HmacProvider;
}

/** A GET signed over date by `user` with `secret`, dated at ms. */
function signedBy(user: string, secret: string, ms: number): FilterRequest {
  const date = new Date(ms).toUTCString();
  const sig = createHmac("sha256", secret).update(`date: ${date}`).digest("base64");
  return request({ headers: { date, authorization: `hmac username="${user}", algorithm="hmac-sha256", headers="date", signature="${sig}"` } });
}

function code(p: HmacProvider, req: FilterRequest, ms: number): string {
  const o = p.authenticate(req, new Date(ms));
  return o.kind === "fail" ? o.code : o.kind;
}

function loadError(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    if (isProxyError(err)) {
      if (err.code !== "invalid_config") throw new Error(`unexpected code ${err.code}`);
      return err.message;
    }
    throw err;
  }
  throw new Error("expected a ProxyError");
}

const S1 = "first-secret-0123456789abcdef";
const S2 = "second-secret-0123456789abcdef";

test("config defaults (Kong's, with sha1 off and hide_credentials on)", (t) => {
  const c = hmacProvider.schema.parse({ consumers_file: "c.yaml" });
  t.deepEqual(c, {
    consumers_file: "c.yaml",
    algorithms: ["hmac-sha256", "hmac-sha384", "hmac-sha512"],
    clock_skew: 300_000,
    enforce_headers: [],
    validate_request_body: false,
    replay_cache_size: 100_000,
    hide_credentials: true,
  });
  const full = hmacProvider.schema.parse({
    consumers_file: "c.yaml",
    algorithms: ["hmac-sha256"],
    clock_skew: "1m",
    enforce_headers: ["Date", "request-line", "@request-target"],
    validate_request_body: true,
    replay_window: "5m",
    hide_credentials: false,
  });
  t.is(full.clock_skew, 60_000);
  t.is(full.replay_window, 300_000);
  t.deepEqual(full.enforce_headers, ["date", "request-line", "@request-target"]);
});

test("bad config values are refused with their key path", (t) => {
  t.deepEqual(issues({}), ["consumers_file: Invalid input: expected string, received undefined"]);
  t.regex(issues({ consumers_file: "c", algorithms: ["hmac-md5"] })[0]!, /^algorithms\.0: expected one of hmac-sha1/);
  t.regex(issues({ consumers_file: "c", algorithms: [] })[0]!, /^algorithms: list at least one/);
  t.regex(issues({ consumers_file: "c", algorithms: ["hmac-sha256", "hmac-sha256"] })[0]!, /listed twice/);
  t.regex(issues({ consumers_file: "c", clock_skew: 300 })[0]!, /^clock_skew: /);
  t.regex(issues({ consumers_file: "c", clock_skew: "2h" })[0]!, /^clock_skew: expected a duration from 1s to 1h/);
  t.regex(issues({ consumers_file: "c", enforce_headers: ["bad header"] })[0]!, /^enforce_headers\.0: expected a header name/);
  t.regex(issues({ consumers_file: "c", replay_window: "3h" })[0]!, /^replay_window: /);
  t.regex(issues({ consumers_file: "c", replay_cache_size: 0 })[0]!, /^replay_cache_size: /);
  t.regex(issues({ consumers_file: "c", realm: "x" })[0]!, /Unrecognized key/);
});

test("consumers with inline secrets and secret files (relative to the consumers file)", (t) => {
  const dir = tmp();
  mkdirSync(join(dir, "creds"));
  mkdirSync(join(dir, "creds", "secrets"));
  writeFileSync(join(dir, "creds", "secrets", "bob.hmac"), `${S2}\n`, { mode: 0o600 });
  writeFileSync(join(dir, "creds", "c.yaml"), `- username: alice\n  secret: "${S1}"\n- username: bob\n  secret_file: secrets/bob.hmac\n`, { mode: 0o600 });
  const p = hmacProvider.create("f", hmacProvider.schema.parse({ consumers_file: "creds/c.yaml", replay_window: "0s" }), {
    clock: new FakeClock(NOW).now,
    baseDir: dir,
  }) as HmacProvider;
  t.is(code(p, signedBy("alice", S1, NOW), NOW), "ok");
  t.is(code(p, signedBy("bob", S2, NOW), NOW), "ok", "the trailing newline is not part of the secret");
  t.is(code(p, signedBy("bob", `${S2}\n`, NOW), NOW), "hmac_bad_signature");
  t.is(p.status().entries, 2);
  t.deepEqual(p.status().warnings, []);
  p.close();
});

test("a bad consumers file stops the provider from being built, naming the entry but no secret", (t) => {
  const dir = tmp();
  const file = join(dir, "consumers.yaml");
  const cases: Array<[string, RegExp]> = [
    [`- username: a\n  secret: "short-${S1.slice(0, 3)}"\n`, /\[0\]\.secret: a secret needs 16/],
    [`- username: a\n  secret: "${S1}"\n- username: a\n  secret: "${S2}"\n`, /\[1\]\.username: "a" is listed twice/],
    [`- username: a\n  secret: "${S1}"\n  secret_file: x\n`, /\[0\]: give exactly one of secret or secret_file/],
    [`- username: a\n`, /\[0\]: give exactly one/],
    [`- username: "a\\"b"\n  secret: "${S1}"\n`, /\[0\]\.username: a username is printable ASCII/],
    [`- username: a\n  secret: "${S1}"\n  role: admin\n`, /\[0\]: Unrecognized key: "role"/],
    [`username: a\nsecret: "${S1}"\n`, /expected a list of \{ username, secret \| secret_file \}/],
    [`- username: a\n  secret: "${S1}\n  bad: [\n`, /not valid YAML\/JSON/],
    [`- username: a\n  secret_file: missing.secret\n`, /missing\.secret: cannot read secret file \(ENOENT\)/],
  ];
  for (const [text, re] of cases) {
    writeFileSync(file, text, { mode: 0o600 });
    const msg = loadError(() => create(dir));
    t.regex(msg, re, text);
    t.regex(msg, /^hmac provider "files": /);
    t.false(msg.includes(S1) || msg.includes(S2) || msg.includes(S1.slice(0, 12)), msg);
  }
  rmSync(file);
  t.regex(loadError(() => create(dir)), /consumers\.yaml: cannot read consumers file \(ENOENT\)/);
  writeFileSync(file, "x".repeat(1024 * 1024 + 1));
  t.regex(loadError(() => create(dir)), /larger than 1048576 bytes/);
});

test("a changed file is picked up at the next check; before the interval the old table is used", (t) => {
  const dir = tmp();
  const file = join(dir, "consumers.yaml");
  writeFileSync(file, `- { username: alice, secret: "${S1}" }\n`, { mode: 0o600 });
  const clock = new FakeClock(NOW);
  const p = create(dir, clock);
  t.is(code(p, signedBy("alice", S1, NOW), NOW), "ok");
  // Rotate alice's secret and add bob (written to a temp file and renamed in, as editors and deploy tools do).
  writeFileSync(`${file}.tmp`, `- { username: alice, secret: "${S2}" }\n- { username: bob, secret: "${S1}" }\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
  const soon = NOW + RELOAD_CHECK_MS - 1;
  t.is(code(p, signedBy("alice", S1, soon), soon), "ok", "not re-checked yet");
  const later = NOW + RELOAD_CHECK_MS;
  t.is(code(p, signedBy("alice", S1, later), later), "hmac_bad_signature");
  t.is(code(p, signedBy("alice", S2, later), later), "ok");
  t.is(code(p, signedBy("bob", S1, later), later), "ok");
  t.is(p.status().entries, 2);
  t.is(p.status().loadedAt.getTime(), later);
});

test("a file that turns bad keeps the last good table and reports it; fixing it clears the error", (t) => {
  const dir = tmp();
  const file = join(dir, "consumers.yaml");
  writeFileSync(file, `- { username: alice, secret: "${S1}" }\n`, { mode: 0o600 });
  const clock = new FakeClock(NOW);
  const p = create(dir, clock);
  writeFileSync(file, `- { username: alice, secret: "${S2}" \n`, { mode: 0o600 });
  let ms = NOW + RELOAD_CHECK_MS;
  t.is(code(p, signedBy("alice", S1, ms), ms), "ok", "last good table still in use");
  t.regex(p.status().lastError ?? "", /not valid YAML/);
  t.false((p.status().lastError ?? "").includes(S2));
  rmSync(file);
  ms += RELOAD_CHECK_MS;
  t.is(code(p, signedBy("alice", S1, ms), ms), "ok", "a deleted file keeps the table too");
  t.regex(p.status().lastError ?? "", /ENOENT/);
  writeFileSync(file, `- { username: alice, secret: "${S2}" }\n`, { mode: 0o600 });
  ms += RELOAD_CHECK_MS;
  t.is(code(p, signedBy("alice", S2, ms), ms), "ok");
  t.is(p.status().lastError, undefined);
});

test("a change to a secret_file alone is picked up", (t) => {
  const dir = tmp();
  writeFileSync(join(dir, "alice.secret"), S1, { mode: 0o600 });
  writeFileSync(join(dir, "consumers.yaml"), "- username: alice\n  secret_file: alice.secret\n", { mode: 0o600 });
  const p = create(dir);
  t.is(code(p, signedBy("alice", S1, NOW), NOW), "ok");
  writeFileSync(join(dir, "alice.secret"), `${S2}\r\n`, { mode: 0o600 });
  const later = NOW + RELOAD_CHECK_MS;
  t.is(code(p, signedBy("alice", S2, later), later), "ok");
  t.is(code(p, signedBy("alice", S1, later), later), "hmac_bad_signature");
});

test("status() warns about credential files open to group or others", (t) => {
  const dir = tmp();
  const file = join(dir, "consumers.yaml");
  writeFileSync(file, `- { username: alice, secret: "${S1}" }\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  const p = create(dir);
  t.deepEqual(p.status().warnings, []);
  chmodSync(file, 0o644);
  const w = p.status().warnings;
  t.is(w.length, 1);
  t.regex(w[0]!, /consumers\.yaml is accessible by group or others \(mode 0644\); 0600 is recommended/);
});
