import test from "ava";
import { CidrSet, parseCidr, parseIp, parseIpv4 } from "../../../proxy/filters/authz-ip.js";

function words(s: string): [number, number[]] {
  const w = new Uint32Array(4);
  const f = parseIp(s, w);
  return [f, [...w]];
}

test("parses IPv4 and refuses malformed quads", (t) => {
  t.is(parseIpv4("10.1.2.3"), 0x0a010203);
  t.is(parseIpv4("255.255.255.255"), 0xffffffff);
  for (const bad of ["10.1.2", "10.1.2.3.4", "256.1.1.1", "01.1.1.1", "1..1.1", "a.b.c.d", "1.1.1.1 ", ""]) {
    t.is(parseIpv4(bad), -1, bad);
  }
});

test("parses IPv6 forms", (t) => {
  t.deepEqual(words("::"), [6, [0, 0, 0, 0]]);
  t.deepEqual(words("::1"), [6, [0, 0, 0, 1]]);
  t.deepEqual(words("2001:db8::"), [6, [0x20010db8, 0, 0, 0]]);
  t.deepEqual(words("2001:db8:0:0:0:0:0:ff"), [6, [0x20010db8, 0, 0, 0xff]]);
  t.deepEqual(words("1:2:3:4:5:6:7:8"), [6, [0x00010002, 0x00030004, 0x00050006, 0x00070008]]);
  t.deepEqual(words("::ffff:10.1.2.3"), [6, [0, 0, 0xffff, 0x0a010203]]);
  t.deepEqual(words("fe80::1%eth0"), [6, [0xfe800000, 0, 0, 1]]);
  for (const bad of [":1", "1:", "1::2::3", "1:2:3:4:5:6:7:8:9", "::1:2:3:4:5:6:7:8", "12345::", "g::", "1:2:3:4:5:6:7:1.2.3.4"]) {
    t.is(parseIp(bad, new Uint32Array(4)), 0, bad);
  }
});

test("CIDR parsing clears host bits and refuses bad prefixes", (t) => {
  const c = parseCidr("10.1.2.3/8");
  t.truthy(c);
  t.is(c!.words[0], 0x0a000000);
  t.truthy(parseCidr("127.0.0.1"));
  t.truthy(parseCidr("2001:db8::/32"));
  t.truthy(parseCidr("0.0.0.0/0"));
  for (const bad of ["10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/08", "10.0.0.0/a", "fe80::1%eth0/64", "nope", "10.0.0/8"]) {
    t.is(parseCidr(bad), undefined, bad);
  }
});

function set(...blocks: string[]): CidrSet {
  return new CidrSet(blocks.map((b) => parseCidr(b)!));
}

function inSet(s: CidrSet, addr: string): boolean {
  const w = new Uint32Array(4);
  return s.matches(parseIp(addr, w), w);
}

test("IPv4 blocks match IPv4 and IPv4-mapped IPv6 addresses", (t) => {
  const s = set("10.0.0.0/8", "192.168.1.7");
  t.true(inSet(s, "10.255.0.1"));
  t.true(inSet(s, "::ffff:10.2.3.4"));
  t.true(inSet(s, "192.168.1.7"));
  t.false(inSet(s, "192.168.1.8"));
  t.false(inSet(s, "11.0.0.1"));
  t.false(inSet(s, "::ffff:11.0.0.1"));
  t.false(inSet(s, "::10.2.3.4")); // IPv4-compatible, not mapped
  t.false(inSet(s, "not-an-ip"));
});

test("IPv6 blocks match IPv6 and (through ::ffff:0:0/96) IPv4", (t) => {
  const s = set("2001:db8::/32", "::1");
  t.true(inSet(s, "2001:db8:1::5"));
  t.true(inSet(s, "::1"));
  t.false(inSet(s, "2001:db9::1"));
  t.false(inSet(s, "127.0.0.1"));
  const mapped = set("::ffff:0:0/96");
  t.true(inSet(mapped, "1.2.3.4"));
  const all = set("0.0.0.0/0");
  t.true(inSet(all, "8.8.8.8"));
  t.false(inSet(all, "2001:db8::1"));
});
