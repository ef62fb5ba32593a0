import test from "ava";
import { Backoff, renewalTime } from "../../citadel-agent/schedule.js";

const nb = new Date(Date.UTC(2026, 0, 1, 0, 0, 0));
const na = new Date(nb.getTime() + 3600_000);

test("renewal at 50% of the lifetime, jitter within ±10%", (t) => {
  t.is(renewalTime(nb, na, { fraction: 0.5, jitter: 0.1 }, () => 0.5).getTime(), nb.getTime() + 1800_000);
  t.is(renewalTime(nb, na, { fraction: 0.5, jitter: 0.1 }, () => 0).getTime(), nb.getTime() + 1440_000);
  t.is(renewalTime(nb, na, { fraction: 0.5, jitter: 0.1 }, () => 1).getTime(), nb.getTime() + 2160_000);
  for (let i = 0; i < 1000; i++) {
    const at = renewalTime(nb, na).getTime() - nb.getTime();
    t.true(at >= 1440_000 && at <= 2160_000);
  }
});

test("renewal always falls inside the lifetime", (t) => {
  t.true(renewalTime(nb, na, { fraction: 0.99, jitter: 0.4 }, () => 1) < na);
  t.true(renewalTime(nb, na, { fraction: 0.01, jitter: 0.4 }, () => 0) > nb);
});

test("back-off doubles, is capped at the maximum plus jitter, and resets on success", (t) => {
  const b = new Backoff({ initialMs: 500, maxMs: 60_000, jitter: 0.2 }, () => 0);
  const waits = Array.from({ length: 12 }, () => b.fail());
  t.deepEqual(waits.slice(0, 4), [500, 1000, 2000, 4000]);
  t.is(waits[11], 60_000);
  const j = new Backoff({ initialMs: 500, maxMs: 60_000, jitter: 0.2 }, () => 1);
  for (let i = 0; i < 20; i++) t.true(j.fail() <= 72_000);
  b.succeed();
  t.is(b.fail(), 500);
  t.is(b.attempts, 1);
});
