import test from "ava";
import { InFlight } from "../../proxy/in-flight.js";

test("items come and go in any order; the list is a copy and a repeated add or delete changes nothing", (t) => {
  const f = new InFlight<{ id: number }>();
  const items = Array.from({ length: 50 }, (_, id) => ({ id }));
  for (const x of items) f.add(x);
  f.add(items[3]!);
  t.is(f.size, 50);
  // remove every third, from the middle, the end and the front
  for (let i = 0; i < 50; i += 3) t.true(f.delete(items[i]!));
  t.false(f.delete(items[0]!));
  t.false(f.delete({ id: 99 }));
  const left = f.list().map((x) => x.id).sort((a, b) => a - b);
  t.deepEqual(left, items.filter((x) => x.id % 3 !== 0).map((x) => x.id));
  const copy = f.list();
  for (const x of copy) f.delete(x);
  t.is(f.size, 0);
  t.is(copy.length, left.length);
  // an item removed can be added again
  f.add(items[0]!);
  t.deepEqual(f.list(), [items[0]]);
});

test("random adds and deletes agree with a Set", (t) => {
  const f = new InFlight<{ id: number }>();
  const ref = new Set<{ id: number }>();
  const pool = Array.from({ length: 64 }, (_, id) => ({ id }));
  let seed = 7;
  const rnd = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  for (let i = 0; i < 20_000; i++) {
    const x = pool[rnd(pool.length)]!;
    if (rnd(2) === 0) {
      f.add(x);
      ref.add(x);
    } else t.is(f.delete(x), ref.delete(x));
    if (f.size !== ref.size) return t.fail(`size ${f.size} against ${ref.size} at step ${i}`);
  }
  t.deepEqual(new Set(f.list()), ref);
});
