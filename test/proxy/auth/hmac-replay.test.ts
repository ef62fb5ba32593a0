/** Time rules of the hmac provider: Date / X-Date within clock_skew, and the replay window (fake clock, no sleeping). */
import test from "ava";
import { createHmac } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hmacProvider, type HmacConfigInput } from "../../../proxy/auth/hmac.js";
import { ReplayCache } from "../../../proxy/auth/hmac-replay.js";
import { parseHttpDate } from "../../../proxy/auth/hmac-signing.js";
import type { AuthOutcome, AuthProvider } from "../../../proxy/auth/types.js";
import type { FilterRequest } from "../../../proxy/filters/types.js";
import { FakeClock, request } from "../filters/fixtures.js";

const SECRET = "dave-secret-0123456789abcdef";
const NOW = Date.UTC(2026, 5, 15, 10, 0, 0);

const dir = mkdtempSync(join(tmpdir(), "hmac-time-"));
writeFileSync(join(dir, "c.yaml"), `- username: dave\n  secret: "${SECRET}"\n`, { mode: 0o600 });

function provider(config: Partial<HmacConfigInput> = {}, clock = new FakeClock(NOW)): AuthProvider {
  return hmacProvider.create("time", hmacProvider.schema.parse({ consumers_file: "c.yaml", ...config }), { clock: clock.now, baseDir: dir });
}

/** GET / signed over the given headers (values from `headers`), as a Kong client would. */
function signedOver(names: string[], headers: Record<string, string>): FilterRequest {
  const text = names.map((n) => (n === "request-line" ? "GET /r HTTP/1.1" : `${n}: ${headers[n]}`)).join("\n");
  const sig = createHmac("sha256", SECRET).update(text).digest("base64");
  return request({
    url: "/r",
    path: "/r",
    headers: { ...headers, authorization: `hmac username="dave", algorithm="hmac-sha256", headers="${names.join(" ")}", signature="${sig}"` },
  });
}

const at = (ms: number) => new Date(ms).toUTCString();

function result(p: AuthProvider, req: FilterRequest, nowMs: number): string {
  const o: AuthOutcome | Promise<AuthOutcome> = p.authenticate(req, new Date(nowMs));
  if (o instanceof Promise) throw new Error("expected a synchronous outcome");
  return o.kind === "fail" ? o.code : o.kind;
}

test("Date within clock_skew on either side is accepted; one second beyond is refused", (t) => {
  const p = provider({ clock_skew: "300s", replay_window: "0s" });
  for (const offset of [0, 300_000, -300_000, 299_000, -299_000]) {
    t.is(result(p, signedOver(["date"], { date: at(NOW + offset) }), NOW), "ok", `offset ${offset}`);
  }
  for (const offset of [301_000, -301_000, 86_400_000, -86_400_000]) {
    t.is(result(p, signedOver(["date"], { date: at(NOW + offset) }), NOW), "hmac_clock_skew", `offset ${offset}`);
  }
  // The same request, judged at different proxy times.
  const req = signedOver(["date"], { date: at(NOW) });
  t.is(result(p, req, NOW + 300_000), "ok");
  t.is(result(p, req, NOW + 301_000), "hmac_clock_skew");
  t.is(result(p, req, NOW - 301_000), "hmac_clock_skew");
});

test("the skew reason says how far off and in which direction", (t) => {
  const p = provider({ clock_skew: "60s", replay_window: "0s" });
  const o = p.authenticate(signedOver(["date"], { date: at(NOW + 120_000) }), new Date(NOW));
  if (o instanceof Promise || o.kind !== "fail") return t.fail();
  t.is(o.reason, "the date header is 120s ahead of the proxy's clock (allowed 60s)");
  t.is(o.principal, "dave");
});

test("X-Date is preferred when both are present (and must then be the one signed)", (t) => {
  const p = provider({ replay_window: "0s" });
  const stale = at(NOW - 3_600_000);
  // Fresh X-Date, stale Date: accepted (Date is ignored).
  t.is(result(p, signedOver(["x-date"], { "x-date": at(NOW), date: stale }), NOW), "ok");
  // Stale X-Date, fresh Date: refused (no fallback to Date).
  t.is(result(p, signedOver(["x-date", "date"], { "x-date": stale, date: at(NOW) }), NOW), "hmac_clock_skew");
  // X-Date alone works; a signature over Date only, when X-Date is present, leaves the checked date unsigned.
  t.is(result(p, signedOver(["x-date"], { "x-date": at(NOW) }), NOW), "ok");
  t.is(result(p, signedOver(["date"], { "x-date": at(NOW), date: at(NOW) }), NOW), "hmac_enforced_header");
});

test("the date header used for the skew check must be signed", (t) => {
  const p = provider({ replay_window: "0s" });
  const req = signedOver(["request-line"], { date: at(NOW) });
  t.is(result(p, req, NOW), "hmac_enforced_header");
});

test("no Date/X-Date, or one that is not an HTTP date, is hmac_clock_skew", (t) => {
  const p = provider({ replay_window: "0s" });
  t.is(result(p, signedOver(["request-line"], {}), NOW), "hmac_clock_skew");
  for (const bad of ["yesterday", String(NOW / 1000), new Date(NOW).toISOString(), "Mon, 15 Jun 2026 10:00:00 UTC", "Mon, 31 Feb 2026 10:00:00 GMT"]) {
    t.is(result(p, signedOver(["date"], { date: bad }), NOW), "hmac_clock_skew", bad);
  }
});

test("HTTP dates: IMF-fixdate, RFC 850 and asctime are read; impossible dates are not", (t) => {
  const ms = Date.UTC(1994, 10, 6, 8, 49, 37);
  t.is(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT", NOW), ms);
  t.is(parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT", NOW), ms);
  t.is(parseHttpDate("Sun Nov  6 08:49:37 1994", NOW), ms);
  t.is(parseHttpDate("Sun, 06 Nov 1994 24:00:00 GMT", NOW), undefined);
  t.is(parseHttpDate("Sun, 06 Nov 1994 08:60:00 GMT", NOW), undefined);
  t.is(parseHttpDate("Sun, 06 Nov 1994 08:49:60 GMT", NOW), undefined);
  t.is(parseHttpDate("Sun, 30 Feb 1994 08:49:37 GMT", NOW), undefined);
  t.is(parseHttpDate("Sun, 06 Nov 0094 08:49:37 GMT", NOW), undefined);
  t.is(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT" + " ".repeat(100), NOW), undefined);
});

test("a signature is refused within the replay window and accepted again after it", (t) => {
  const p = provider({ clock_skew: "300s", replay_window: "60s" });
  const req = signedOver(["date", "request-line"], { date: at(NOW) });
  t.is(result(p, req, NOW), "ok");
  t.is(result(p, req, NOW + 1), "hmac_replay");
  t.is(result(p, req, NOW + 59_999), "hmac_replay");
  t.is(result(p, req, NOW + 60_000), "ok");
  t.is(result(p, req, NOW + 61_000), "hmac_replay");
  // A different request (another signature) is not affected.
  t.is(result(p, signedOver(["date", "request-line"], { date: at(NOW + 1000) }), NOW + 61_000), "ok");
});

test("the default replay window is twice clock_skew; 0s turns the check off", (t) => {
  const p = provider({ clock_skew: "10s" });
  const req = signedOver(["date"], { date: at(NOW) });
  t.is(result(p, req, NOW), "ok");
  t.is(result(p, req, NOW + 10_000), "hmac_replay");
  // Now the date is out of skew anyway.
  t.is(result(p, req, NOW + 20_000), "hmac_clock_skew");
  const off = provider({ replay_window: "0s" });
  t.is(result(off, req, NOW), "ok");
  t.is(result(off, req, NOW), "ok");
});

test("a replay with the signature spelt differently (same bytes) is still a replay", (t) => {
  const p = provider();
  const req = signedOver(["date"], { date: at(NOW) });
  t.is(result(p, req, NOW), "ok");
  const auth = String(req.headers.authorization);
  const sig = /signature="([^"]+)"/.exec(auth)![1]!;
  // 32 bytes in base64 leave two spare bits in the last character before "=": flip them.
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const last = alphabet.indexOf(sig[42]!);
  const respelt = sig.slice(0, 42) + alphabet[last ^ 1] + sig.slice(43);
  t.not(respelt, sig);
  t.deepEqual(Buffer.from(respelt, "base64"), Buffer.from(sig, "base64"));
  t.is(result(p, { ...req, headers: { ...req.headers, authorization: auth.replace(sig, respelt) } }, NOW + 1), "hmac_replay");
});

test("failed attempts are not recorded: a bad request does not block the good one", (t) => {
  const p = provider();
  const req = signedOver(["date"], { date: at(NOW) });
  const tampered = { ...req, headers: { ...req.headers, date: at(NOW + 1000) } };
  t.is(result(p, tampered, NOW), "hmac_bad_signature");
  t.is(result(p, req, NOW), "ok");
});

test("ReplayCache: bounded, oldest evicted first, expired entries pruned", (t) => {
  const c = new ReplayCache(1000, 3);
  c.record("a", 0);
  c.record("b", 10);
  c.record("c", 20);
  t.is(c.size, 3);
  c.record("d", 30);
  t.is(c.size, 3);
  t.false(c.seen("a", 31), "the oldest was evicted");
  t.true(c.seen("b", 31));
  t.true(c.seen("d", 1029));
  t.false(c.seen("d", 1030));
  c.record("e", 1025);
  t.is(c.size, 2, "b and c expired and were pruned");
  t.throws(() => new ReplayCache(0, 1));
  t.throws(() => new ReplayCache(1, 0));
});

test("the replay cache stays within replay_cache_size", (t) => {
  const p = provider({ replay_cache_size: 10 });
  const reqs = Array.from({ length: 12 }, (_, i) => signedOver(["date", "x-n"], { date: at(NOW), "x-n": String(i) }));
  for (const r of reqs) t.is(result(p, r, NOW), "ok");
  // The two oldest were evicted (replayable early: documented); the rest are still refused.
  t.is(result(p, reqs[0]!, NOW + 1), "ok");
  t.is(result(p, reqs[11]!, NOW + 1), "hmac_replay");
});
