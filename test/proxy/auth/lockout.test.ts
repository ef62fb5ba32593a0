import test from "ava";
import { addressKey, Lockout, retryAfterSeconds, slowDownMs, type LockoutPolicy } from "../../../proxy/auth/lockout.js";

const MIN = 60_000;
const POLICY: LockoutPolicy = {
  slowAfter: 3,
  slowDelayMs: 1000,
  maxDelayMs: 5000,
  lockAfter: 10,
  lockMs: 15 * MIN,
  windowMs: 15 * MIN,
  maxTracked: 100_000,
};
const T0 = Date.UTC(2026, 0, 1);

function fail(l: Lockout, n: number, user: string, addr: string, at: number): void {
  for (let i = 0; i < n; i++) l.recordFailure(user, addr, at);
}

test("slow-down: nothing up to slow_after, then slow_delay per failure, capped at max_delay", (t) => {
  const got = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 50].map((n) => slowDownMs(POLICY, n));
  t.deepEqual(got, [0, 0, 0, 0, 1000, 2000, 3000, 4000, 5000, 5000, 5000, 5000]);
  t.is(slowDownMs({ ...POLICY, slowDelayMs: 0 }, 9), 0, "slow_delay 0s: no slow-down");
  t.is(slowDownMs({ ...POLICY, slowAfter: 0, slowDelayMs: 250 }, 1), 250, "slow_after 0: from the first failure");
});

test("the delay uses the larger of the user's and the address's counts", (t) => {
  const l = new Lockout(POLICY);
  fail(l, 5, "alice", "10.0.0.1", T0);
  t.is(l.delayMs("alice", "10.9.9.9", T0), 2000, "alice has 5 failures from anywhere");
  t.is(l.delayMs("bob", "10.0.0.1", T0), 2000, "10.0.0.1 has 5 failures for anyone");
  t.is(l.delayMs("bob", "10.9.9.9", T0), 0);
});

test("lock per user: failures from many addresses lock the user, not the addresses", (t) => {
  const l = new Lockout(POLICY);
  for (let i = 0; i < 9; i++) l.recordFailure("alice", `10.0.0.${i}`, T0 + i);
  t.is(l.locked("alice", "10.1.1.1", T0 + 9).ms, 0, "9 failures: not yet");
  l.recordFailure("alice", "10.0.0.9", T0 + 9);
  const s = l.locked("alice", "10.1.1.1", T0 + 10);
  t.deepEqual(s, { ms: 15 * MIN - 1, user: true, address: false });
  t.is(retryAfterSeconds(s.ms), 900);
  t.is(l.locked("bob", "10.0.0.9", T0 + 10).ms, 0, "the addresses are not locked");
});

test("lock per address: one client guessing many users is locked for every user", (t) => {
  const l = new Lockout(POLICY);
  for (let i = 0; i < 10; i++) l.recordFailure(`user${i}`, "192.0.2.7", T0);
  const s = l.locked("someone-else", "192.0.2.7", T0 + 1000);
  t.deepEqual(s, { ms: 15 * MIN - 1000, user: false, address: true });
  t.is(l.locked("someone-else", "192.0.2.8", T0 + 1000).ms, 0);
});

test("a lock ends after lock_time and the count starts again from zero", (t) => {
  const l = new Lockout(POLICY);
  fail(l, 10, "alice", "10.0.0.1", T0);
  t.true(l.locked("alice", "10.0.0.1", T0 + 15 * MIN - 1).ms > 0);
  t.is(retryAfterSeconds(l.locked("alice", "10.0.0.1", T0 + 15 * MIN - 1).ms), 1);
  t.is(l.locked("alice", "10.0.0.1", T0 + 15 * MIN).ms, 0);
  t.is(l.userFailures("alice", T0 + 15 * MIN), 0);
  t.is(l.delayMs("alice", "10.0.0.1", T0 + 15 * MIN), 0);
});

test("failures older than the window are forgotten, one by one", (t) => {
  const l = new Lockout(POLICY);
  l.recordFailure("alice", "10.0.0.1", T0);
  fail(l, 8, "alice", "10.0.0.1", T0 + 10 * MIN);
  t.is(l.userFailures("alice", T0 + 15 * MIN - 1), 9);
  t.is(l.userFailures("alice", T0 + 15 * MIN), 8, "the first failure left the window");
  l.recordFailure("alice", "10.0.0.1", T0 + 15 * MIN);
  t.is(l.locked("alice", "10.0.0.1", T0 + 15 * MIN).ms, 0, "9 recent failures do not lock");
  t.is(l.userFailures("alice", T0 + 25 * MIN), 1, "only the failure at 15m is inside the window");
  t.is(l.userFailures("alice", T0 + 30 * MIN), 0);
  t.deepEqual(l.tracked, { users: 0, addresses: 1 }, "an expired key is dropped when looked at");
});

test("a success clears the user's and the address's failures and locks", (t) => {
  const l = new Lockout(POLICY);
  fail(l, 10, "alice", "10.0.0.1", T0);
  fail(l, 4, "bob", "10.0.0.2", T0);
  l.clear("alice", "10.0.0.1");
  t.is(l.locked("alice", "10.0.0.1", T0).ms, 0);
  t.is(l.userFailures("alice", T0), 0);
  t.is(l.addressFailures("10.0.0.1", T0), 0);
  t.is(l.userFailures("bob", T0), 4, "other keys are kept");
});

test("IPv4-mapped IPv6 addresses count as the IPv4 address", (t) => {
  t.is(addressKey("::ffff:10.0.0.1"), "10.0.0.1");
  t.is(addressKey("2001:db8::1"), "2001:db8::1");
  const l = new Lockout(POLICY);
  fail(l, 5, "a", "::ffff:10.0.0.1", T0);
  fail(l, 5, "b", "10.0.0.1", T0);
  t.true(l.locked("c", "10.0.0.1", T0).address);
});

test("max_tracked bounds each table; the least recently failed key goes first", (t) => {
  const l = new Lockout({ ...POLICY, maxTracked: 3 });
  l.recordFailure("a", "1.1.1.1", T0);
  l.recordFailure("b", "1.1.1.1", T0);
  l.recordFailure("c", "1.1.1.1", T0);
  l.recordFailure("a", "1.1.1.1", T0 + 1); // a is now the most recent
  l.recordFailure("d", "1.1.1.1", T0 + 2);
  t.is(l.tracked.users, 3);
  t.is(l.userFailures("b", T0 + 2), 0, "b was forgotten");
  t.is(l.userFailures("a", T0 + 2), 2);
  t.is(l.userFailures("d", T0 + 2), 1);
});

test("lock_after 0 never locks; the kept history stays bounded", (t) => {
  const l = new Lockout({ ...POLICY, lockAfter: 0 });
  fail(l, 500, "alice", "10.0.0.1", T0);
  t.is(l.locked("alice", "10.0.0.1", T0).ms, 0);
  // slow_after 3 + 5s / 1s: beyond 8 failures the delay cannot grow, so no more are kept.
  t.is(l.userFailures("alice", T0), 8);
  t.is(l.delayMs("alice", "10.0.0.1", T0), 5000);
  const none = new Lockout({ ...POLICY, lockAfter: 0, slowDelayMs: 0 });
  fail(none, 5, "alice", "10.0.0.1", T0);
  t.deepEqual(none.tracked, { users: 0, addresses: 0 }, "nothing to enforce: nothing tracked");
});

test("Retry-After is whole seconds, rounded up, at least 1", (t) => {
  t.is(retryAfterSeconds(1), 1);
  t.is(retryAfterSeconds(1000), 1);
  t.is(retryAfterSeconds(1001), 2);
  t.is(retryAfterSeconds(0), 1);
});
