import test from "ava";
import { childName } from "../../../../proxy/waf/request/name-cache.js";
import { parseRequest } from "../../../../proxy/waf/request/parse.js";

test("a child name is its parent, a dot and the key or index, however often it is asked for", (t) => {
  t.is(childName("json", "a"), "json.a");
  t.is(childName("json", "a"), "json.a");
  t.is(childName("json.a", 0), "json.a.0");
  t.is(childName("json.a", "0"), "json.a.0");
  t.is(childName("json", "__proto__"), "json.__proto__");
  t.is(childName("json", ""), "json.");
});

test("a flood of distinct keys starts the cache over and every name stays right", (t) => {
  for (let i = 0; i < 30_000; i++) {
    const n = childName(`json.p${i % 7}`, `k${i}`);
    if (n !== `json.p${i % 7}.k${i}`) t.fail(n);
  }
  t.is(childName("json.p1", "k1"), "json.p1.k1");
});

test("JSON leaves are named the same in every request", (t) => {
  const names = () =>
    parseRequest({ method: "POST", uri: "/", protocol: "HTTP/1.1", headers: [["content-type", "application/json"]], body: Buffer.from('{"a":{"b":[1,{"c":2}]},"d":"x"}') })
      .collections.get("body_args")!
      .map((a) => a.name);
  t.deepEqual(names(), ["json.a.b.0", "json.a.b.1.c", "json.d"]);
  t.deepEqual(names(), ["json.a.b.0", "json.a.b.1.c", "json.d"]);
});
