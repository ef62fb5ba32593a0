import test from "ava";
import v8 from "node:v8";
import { runInNewContext } from "node:vm";
import { rootName } from "../../../../proxy/waf/request/name-cache.js";
import { DEFAULT_LIMITS } from "../../../../proxy/waf/types.js";
import { parseRequest } from "../../../../proxy/waf/request/parse.js";

test("a child name is its parent, a dot and the key or index, the same node however often it is asked for", (t) => {
  const root = rootName();
  const a = root.keyChild("a", true, 0);
  t.is(a.name, "json.a");
  t.is(root.keyChild("a", true, 0), a);
  t.is(a.indexChild(0).name, "json.a.0");
  t.is(a.indexChild(0), a.indexChild(0));
  t.is(a.keyChild("0", true, 0).name, "json.a.0");
  t.is(root.keyChild("__proto__", true, 1).name, "json.__proto__");
  t.is(root.keyChild("", true, 2).name, "json.");
});

test("the key first met at a position is expected there again; a key read with escapes is never compared in place", (t) => {
  const node = rootName().keyChild("order", true, 0);
  t.is(node.expectedKey(0), undefined);
  const id = node.keyChild("id", true, 0);
  const odd = node.keyChild('say "hi"', false, 1);
  node.keyChild("late", true, 5);
  t.is(node.expectedKey(0), id);
  t.is(id.plainKey, "id");
  t.is(odd.plainKey, undefined);
  t.is(node.expectedKey(1), undefined);
  t.is(node.expectedKey(5), undefined, "only a key met in order is expected");
});

test("a flood of distinct keys starts the tree over and every name stays right", (t) => {
  for (let i = 0; i < 30_000; i++) {
    const n = rootName().keyChild(`p${i % 7}`, true, 0).keyChild(`k${i}`, true, i);
    if (n.name !== `json.p${i % 7}.k${i}`) t.fail(n.name);
  }
  t.is(rootName().keyChild("p1", true, 0).keyChild("k1", true, 0).name, "json.p1.k1");
});

test("keys in the order met before and in another order, with escapes, and past the depth limit are all named right", (t) => {
  const names = (body: string, depth = 32) =>
    parseRequest(
      { method: "POST", uri: "/", protocol: "HTTP/1.1", headers: [["content-type", "application/json"]], body: Buffer.from(body, "latin1") },
      { ...DEFAULT_LIMITS, depth },
    )
      .collections.get("body_args")
      ?.map((a) => `${a.name}=${a.value}`);
  const first = '{"a":1,"b":{"c":2,"d":[3,{"e":4}]},"f\\"g":5}';
  const want = ["json.a=1", "json.b.c=2", "json.b.d.0=3", "json.b.d.1.e=4", 'json.f"g=5'];
  t.deepEqual(names(first), want);
  t.deepEqual(names(first), want);
  // the same keys in another order, a prefix of an expected key, a longer one, an escaped twin
  t.deepEqual(names('{"b":{"d":[],"c":2},"ab":1,"a":0,"f\\"g":6}'), ["json.b.d=", "json.b.c=2", "json.ab=1", "json.a=0", 'json.f"g=6']);
  t.deepEqual(names('{"\\u0061":1,"a\\"":2}'), ["json.a=1", 'json.a"=2']);
  t.deepEqual(names('{"a":1,"b":{"c":2}}', 1), ["json.a=1"]);
  t.deepEqual(names(first), want);
});

test("JSON leaves are named the same in every request", (t) => {
  const names = () =>
    parseRequest({ method: "POST", uri: "/", protocol: "HTTP/1.1", headers: [["content-type", "application/json"]], body: Buffer.from('{"a":{"b":[1,{"c":2}]},"d":"x"}') })
      .collections.get("body_args")!
      .map((a) => a.name);
  t.deepEqual(names(), ["json.a.b.0", "json.a.b.1.c", "json.d"]);
  t.deepEqual(names(), ["json.a.b.0", "json.a.b.1.c", "json.d"]);
});

test("the tree does not keep alive the bodies its keys were cut from", (t) => {
  v8.setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  gc();
  const before = process.memoryUsage().heapUsed;
  const pad = "x".repeat(100_000);
  for (let i = 0; i < 200; i++) {
    // a new key of 13 or more characters in each 100 KB body: V8 would make it a view of the body
    const body = Buffer.from(JSON.stringify({ [`a_long_key_number_${i}`]: 1, pad }));
    parseRequest({ method: "POST", uri: "/", protocol: "HTTP/1.1", headers: [["host", "x"], ["content-type", "application/json"]], body }, DEFAULT_LIMITS);
  }
  gc();
  const grown = process.memoryUsage().heapUsed - before;
  t.is(rootName().keyChild("a_long_key_number_7", true, 0).name, "json.a_long_key_number_7");
  // 200 bodies would be 20 MB
  t.true(grown < 4_000_000, `${grown} bytes`);
});

test("a JSON body's names collection holds the same frozen entries in every request", (t) => {
  const names = (): readonly { name: string; value: string }[] =>
    parseRequest({ method: "POST", uri: "/", protocol: "HTTP/1.1", headers: [["host", "x"], ["content-type", "application/json"]], body: Buffer.from('{"order":{"id":7,"items":[{"sku":"a"}]}}') }, DEFAULT_LIMITS).collections.get("body_args_names")!;
  const a = names();
  const b = names();
  t.deepEqual(a.map((x) => x.name), ["json.order.id", "json.order.items.0.sku"]);
  a.forEach((x, i) => {
    t.is(b[i], x);
    t.true(Object.isFrozen(x));
    t.is(x.value, x.name);
  });
});
