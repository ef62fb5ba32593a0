import test from "ava";
import { randomBytes } from "node:crypto";
import * as der from "../../pki/der.js";
import { DerError, TAG } from "../../pki/der.js";
import { PkiError } from "../../pki/errors.js";

const hex = (b: Buffer): string => b.toString("hex");

test("INTEGER encodings pick the minimal two's-complement form", (t) => {
  t.is(hex(der.integer(0)), "020100");
  t.is(hex(der.integer(127)), "02017f");
  t.is(hex(der.integer(128)), "02020080");
  t.is(hex(der.integer(256)), "02020100");
  t.is(hex(der.integer(-1)), "0201ff");
  t.is(hex(der.integer(-128)), "020180");
  t.is(hex(der.integer(-129)), "0202ff7f");
  t.is(hex(der.integer(-32768)), "02028000");
  t.is(hex(der.integer(2n ** 64n)), "0209010000000000000000");
  // Buffers are unsigned magnitudes: leading zeros dropped, sign byte added when the top bit is set.
  t.is(hex(der.integer(Buffer.from("0000ff01", "hex"))), "020300ff01");
  t.is(hex(der.integer(Buffer.from("7f", "hex"))), "02017f");
  t.is(hex(der.integer(Buffer.from("000000", "hex"))), "020100");
  t.is(hex(der.integer(Buffer.alloc(0))), "020100");
  t.throws(() => der.integer(1.5), { instanceOf: RangeError });
});

test("INTEGER round trips through the reader", (t) => {
  const values = [0n, 1n, -1n, 127n, 128n, -128n, -129n, 255n, 256n, 65535n, -65536n, 2n ** 159n - 1n, -(2n ** 100n)];
  for (let i = 0; i < 200; i++) {
    const v = BigInt("0x" + randomBytes(1 + (i % 24)).toString("hex"));
    values.push(v, -v);
  }
  for (const v of values) t.is(der.readInteger(der.decode(der.integer(v))), v, String(v));
  const serial = Buffer.from("80aa", "hex");
  t.is(der.readInteger(der.decode(der.integer(serial))), 0x80aan);
});

test("OBJECT IDENTIFIER encodings and round trips", (t) => {
  t.is(hex(der.oid("1.2.840.113549.1.1.11")), "06092a864886f70d01010b");
  t.is(hex(der.oid("2.5.29.17")), "0603551d11");
  t.is(hex(der.oid("2.999.3")), "0603883703");
  t.is(der.oid("2.5.29.17"), der.oid("2.5.29.17"), "encodings are cached");
  for (const o of ["1.2.840.10045.4.3.2", "1.3.132.0.34", "2.999.3", "0.0", "1.2.3.4.5.6.7.8.9.4294967296", "2.5.4.3"]) {
    t.is(der.readOid(der.decode(der.oid(o))), o);
  }
  for (const bad of ["", "1", "3.1", "1.40", "1.2.", "1..2", "1.02", "a.b"]) {
    t.throws(() => der.oid(bad), { instanceOf: RangeError }, bad);
  }
});

test("times follow RFC 5280: UTCTime through 2049, GeneralizedTime from 2050", (t) => {
  const utc = der.time(new Date("2049-12-31T23:59:59.999Z"));
  t.is(utc[0], TAG.UTC_TIME);
  t.is(utc.subarray(2).toString(), "491231235959Z");
  const gen = der.time(new Date("2050-01-01T00:00:00Z"));
  t.is(gen[0], TAG.GENERALIZED_TIME);
  t.is(gen.subarray(2).toString(), "20500101000000Z");
  t.is(der.time(new Date("1950-01-01T00:00:00Z")).subarray(2).toString(), "500101000000Z");
  t.is(der.time(new Date("1949-12-31T23:59:59Z"))[0], TAG.GENERALIZED_TIME);
  for (const iso of ["1950-01-01T00:00:00Z", "1999-02-28T12:34:56Z", "2024-02-29T00:00:01Z", "2049-12-31T23:59:59Z", "2050-06-15T08:09:10Z", "9999-12-31T23:59:59Z"]) {
    t.is(der.readTime(der.decode(der.time(new Date(iso)))).toISOString(), new Date(iso).toISOString(), iso);
  }
  t.throws(() => der.time(new Date(NaN)), { instanceOf: RangeError });
  t.throws(() => der.utcTime(new Date("2050-01-01T00:00:00Z")), { instanceOf: RangeError });
});

test("strings, booleans, NULL, bit and octet strings", (t) => {
  t.is(hex(der.boolean(true)), "0101ff");
  t.is(hex(der.boolean(false)), "010100");
  t.is(hex(der.nullValue()), "0500");
  t.is(hex(der.bitString(Buffer.from([0x86]), 1)), "03020186");
  t.is(hex(der.octetString(Buffer.from("abc"))), "0403616263");
  t.is(der.readString(der.decode(der.utf8String("grüße ✓"))), "grüße ✓");
  t.is(der.readString(der.decode(der.printableString("Mesh CA 1"))), "Mesh CA 1");
  t.is(der.readString(der.decode(der.ia5String("spiffe://td/x"))), "spiffe://td/x");
  t.throws(() => der.printableString("a@b"), { instanceOf: RangeError });
  t.throws(() => der.ia5String("é"), { instanceOf: RangeError });
  t.true(der.readBoolean(der.decode(der.boolean(true))));
  const bs = der.readBitString(der.decode(der.bitString(Buffer.from([0xa0]), 5)));
  t.deepEqual([hex(bs.bits), bs.unusedBits], ["a0", 5]);
  t.throws(() => der.bitString(Buffer.alloc(0), 3), { instanceOf: RangeError });
});

test("SEQUENCE, sorted SET, explicit and implicit tags, long lengths", (t) => {
  const seq = der.sequence(der.integer(1), der.nullValue());
  t.is(hex(seq), "30050201010500");
  t.is(hex(der.set(der.integer(2), der.integer(1))), "3106020101020102", "SET OF members sorted by encoding");
  t.is(hex(der.explicit(0, der.integer(2))), "a003020102");
  t.is(hex(der.implicit(6, der.ia5String("a"))), "860161");
  t.is(hex(der.implicit(0, der.sequence())), "a000", "the constructed bit is kept");
  t.is(der.raw(seq), seq);
  for (const n of [127, 128, 255, 256, 65535, 65536, 70000]) {
    const enc = der.octetString(Buffer.alloc(n, 0x5a));
    const node = der.decode(enc);
    t.is(node.content.length, n);
    t.true(node.content.every((b) => b === 0x5a));
  }
  const nested = der.decode(der.sequence(der.explicit(3, der.sequence(der.oid("2.5.29.19"))), der.boolean(false)));
  const [ctx, b] = nested.children();
  t.is(ctx!.tag, 0xa3);
  t.is(der.readOid(ctx!.children()[0]!.children()[0]!), "2.5.29.19");
  t.false(der.readBoolean(b!));
  t.deepEqual(ctx!.encoded, nested.content.subarray(0, ctx!.end - ctx!.start));
});

const malformed: Array<[string, string]> = [
  ["empty input", ""],
  ["truncated header", "30"],
  ["truncated content", "3005020101"],
  ["length past the end", "0403aabb"],
  ["indefinite length", "30800201010000"],
  ["length field too long", "04850000000001aa"],
  ["truncated length field", "048200"],
  ["non-minimal long length", "048105" + "aa".repeat(5)],
  ["leading zero length byte", "04820005" + "aa".repeat(5)],
  ["multi-byte tag", "1f8101020101"],
  ["trailing bytes", "020101ff"],
  ["child overruns its parent", "3003020501"],
];

test("every malformed input class throws DerError", (t) => {
  for (const [what, h] of malformed) {
    const err = t.throws(() => der.decodeDeep(Buffer.from(h, "hex")), { instanceOf: DerError }, what);
    t.true(err instanceof PkiError && err.code === "invalid_argument", what);
  }
  t.throws(() => der.decode("3000" as unknown as Buffer), { instanceOf: DerError });
});

test("nesting deeper than the limit is refused, lazily and eagerly", (t) => {
  let enc = der.nullValue();
  for (let i = 0; i < 40; i++) enc = der.sequence(enc);
  t.throws(() => der.decodeDeep(enc), { instanceOf: DerError, message: /nesting deeper than 32/ });
  t.notThrows(() => der.decodeDeep(enc, 64));
  let node = der.decode(enc);
  t.throws(() => {
    for (;;) node = node.children()[0]!;
  }, { instanceOf: DerError, message: /nesting deeper/ });
});

test("typed readers refuse malformed content", (t) => {
  const node = (h: string): der.DerNode => der.decode(Buffer.from(h, "hex"));
  t.throws(() => der.readInteger(node("0200")), { instanceOf: DerError });
  t.throws(() => der.readInteger(node("0202007f")), { instanceOf: DerError, message: /non-minimal/ });
  t.throws(() => der.readInteger(node("0202ff80")), { instanceOf: DerError, message: /non-minimal/ });
  t.throws(() => der.readInteger(node("0101ff")), { instanceOf: DerError, message: /expected tag/ });
  t.throws(() => der.readSmallInt(node("0201ff"), "v"), { instanceOf: DerError });
  t.throws(() => der.readSmallInt(node("02050100000000"), "v"), { instanceOf: DerError });
  t.throws(() => der.readBoolean(node("010101")), { instanceOf: DerError });
  t.throws(() => der.readBitString(node("030108")), { instanceOf: DerError });
  t.throws(() => der.readBitString(node("0300")), { instanceOf: DerError });
  t.throws(() => der.readOid(node("06022a86")), { instanceOf: DerError, message: /truncated arc/ });
  t.throws(() => der.readOid(node("0603 2a8001".replace(" ", ""))), { instanceOf: DerError, message: /non-minimal/ });
  t.throws(() => der.readOid(node("0600")), { instanceOf: DerError });
  t.throws(() => der.readString(node("0c02c328")), { instanceOf: DerError, message: /UTF-8/ });
  t.throws(() => der.readString(node("020101")), { instanceOf: DerError });
  t.throws(() => node("020101").children(), { instanceOf: DerError, message: /primitive/ });
  const time = (tag: number, s: string): der.DerNode => der.decode(Buffer.concat([Buffer.from([tag, s.length]), Buffer.from(s)]));
  for (const [tag, s] of [
    [TAG.UTC_TIME, "491331235959Z"], // month 13
    [TAG.UTC_TIME, "490230000000Z"], // 30 February
    [TAG.UTC_TIME, "4912312359Z"], // no seconds
    [TAG.UTC_TIME, "491231235959+"], // no Z
    [TAG.UTC_TIME, "49123123595aZ"],
    [TAG.UTC_TIME, "491231245959Z"],
    [TAG.GENERALIZED_TIME, "20501231235959.5Z"],
    [TAG.GENERALIZED_TIME, "205012312359Z"],
    [TAG.INTEGER, "0"],
  ] as Array<[number, string]>) {
    t.throws(() => der.readTime(time(tag, s)), { instanceOf: DerError }, s);
  }
  t.throws(() => der.seqChildren(node("3000"), "x", 1), { instanceOf: DerError });
});

test("random and mutated inputs only ever throw DerError", (t) => {
  const sample = der.sequence(
    der.explicit(0, der.integer(2)),
    der.integer(randomBytes(16)),
    der.sequence(der.oid("1.2.840.10045.4.3.2")),
    der.sequence(der.set(der.sequence(der.oid("2.5.4.3"), der.utf8String("x")))),
    der.sequence(der.time(new Date()), der.time(new Date("2060-01-01T00:00:00Z"))),
    der.bitString(randomBytes(70)),
    der.octetString(randomBytes(300)),
  );
  const walk = (n: der.DerNode): void => {
    if (n.tag === TAG.INTEGER) der.readInteger(n);
    else if (n.tag === TAG.OID) der.readOid(n);
    else if (n.tag === TAG.UTC_TIME || n.tag === TAG.GENERALIZED_TIME) der.readTime(n);
    else if (n.tag === TAG.UTF8_STRING) der.readString(n);
    if (n.constructed) n.children().forEach(walk);
  };
  let ok = 0;
  let failed = 0;
  for (let i = 0; i < 3000; i++) {
    let input: Buffer;
    if (i % 3 === 0) {
      input = randomBytes(1 + (i % 64));
    } else {
      input = Buffer.from(sample);
      for (let k = 0; k < 1 + (i % 4); k++) input[Math.floor(Math.random() * input.length)] = Math.floor(Math.random() * 256);
      if (i % 5 === 0) input = input.subarray(0, Math.floor(Math.random() * input.length));
    }
    try {
      walk(der.decodeDeep(input));
      ok++;
    } catch (err) {
      if (!(err instanceof DerError)) t.fail(`non-DER error for ${hex(input)}: ${String(err)}`);
      failed++;
    }
  }
  t.true(failed > 0);
  t.is(ok + failed, 3000);
  t.notThrows(() => walk(der.decodeDeep(sample)));
});
