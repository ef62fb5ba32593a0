import test from "ava";
import { Endpoint, parseEndpointAddress } from "../../../proxy/cluster/endpoint.js";
import { LeastRequest, RoundRobin } from "../../../proxy/cluster/lb.js";

function eps(n: number): Endpoint[] {
  return Array.from({ length: n }, (_, i) => {
    const a = parseEndpointAddress(`10.0.0.${i + 1}:80`);
    if (typeof a === "string") throw new Error(a);
    return new Endpoint(a);
  });
}

/** A random source that replays the given values. */
function replay(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length]!;
}

test("round robin cycles in order", (t) => {
  const hosts = eps(3);
  const lb = new RoundRobin();
  const seq = Array.from({ length: 7 }, () => lb.pick(hosts, 0)!.endpoint.address);
  t.deepEqual(seq, ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.1:80"]);
});

test("round robin skips ejected endpoints until their time is up", (t) => {
  const hosts = eps(3);
  hosts[1]!.ejectedUntil = 1000;
  const lb = new RoundRobin();
  const seq = Array.from({ length: 4 }, () => lb.pick(hosts, 500)!.endpoint.address);
  t.deepEqual(seq, ["10.0.0.1:80", "10.0.0.3:80", "10.0.0.1:80", "10.0.0.3:80"]);
  const later = Array.from({ length: 3 }, () => lb.pick(hosts, 1000)!.endpoint.address);
  t.true(later.includes("10.0.0.2:80"), "back in rotation at ejectedUntil");
});

test("all ejected: panic picks among all of them; empty: undefined", (t) => {
  const hosts = eps(2);
  for (const h of hosts) h.ejectedUntil = 1000;
  const rr = new RoundRobin();
  const a = rr.pick(hosts, 0)!;
  const b = rr.pick(hosts, 0)!;
  t.true(a.panic && b.panic);
  t.not(a.endpoint, b.endpoint, "panic still spreads the load");
  const lr = new LeastRequest(replay(0.1, 0.9));
  t.true(lr.pick(hosts, 0)!.panic);
  t.is(rr.pick([], 0), undefined);
  t.is(lr.pick([], 0), undefined);
  t.false(rr.pick(hosts, 1000)!.panic);
});

test("P2C prefers the less-loaded of its two choices", (t) => {
  const hosts = eps(2);
  hosts[0]!.active = 5;
  hosts[1]!.active = 1;
  const lb = new LeastRequest(Math.random);
  for (let i = 0; i < 50; i++) t.is(lb.pick(hosts, 0)!.endpoint, hosts[1]!);
});

test("P2C: two distinct draws; the busiest of many hosts is almost never picked", (t) => {
  const hosts = eps(4);
  hosts[0]!.active = 1;
  hosts[1]!.active = 2;
  hosts[2]!.active = 3;
  hosts[3]!.active = 100;
  // Both draws hit index 3 unless shifted: the second must become a different host.
  const lb = new LeastRequest(replay(0.99, 0.99));
  t.is(lb.pick(hosts, 0)!.endpoint, hosts[2]!);
  let rnd = 12345;
  const random = () => ((rnd = (rnd * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const p2c = new LeastRequest(random);
  const counts = new Map<Endpoint, number>();
  for (let i = 0; i < 2000; i++) {
    const e = p2c.pick(hosts, 0)!.endpoint;
    counts.set(e, (counts.get(e) ?? 0) + 1);
  }
  t.is(counts.get(hosts[3]!) ?? 0, 0, "a host only wins when paired with a busier one");
  t.true((counts.get(hosts[0]!) ?? 0) > (counts.get(hosts[2]!) ?? 0));
});

test("P2C skips ejected endpoints", (t) => {
  const hosts = eps(3);
  hosts[0]!.ejectedUntil = 1000;
  hosts[2]!.ejectedUntil = 1000;
  const lb = new LeastRequest(Math.random);
  for (let i = 0; i < 30; i++) {
    const r = lb.pick(hosts, 10)!;
    t.is(r.endpoint, hosts[1]!);
    t.false(r.panic);
  }
  hosts[1]!.active = 9;
  const lb2 = new LeastRequest(replay(0, 0.99));
  t.is(lb2.pick(hosts, 1000)!.endpoint, hosts[0]!, "after the ejection the idle hosts win again");
});

test("avoid: another healthy endpoint is preferred, the avoided one only when alone", (t) => {
  const hosts = eps(3);
  for (const lb of [new RoundRobin(), new LeastRequest(() => 0)]) {
    for (let i = 0; i < 6; i++) t.not(lb.pick(hosts, 0, hosts[0])!.endpoint, hosts[0]!);
  }
  hosts[1]!.ejectedUntil = 10;
  hosts[2]!.ejectedUntil = 10;
  for (const lb of [new RoundRobin(), new LeastRequest(() => 0)]) {
    const r = lb.pick(hosts, 0, hosts[0])!;
    t.is(r.endpoint, hosts[0]!);
    t.false(r.panic);
  }
});
