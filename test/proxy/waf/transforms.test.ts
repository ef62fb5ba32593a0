import test from "ava";
import { TRANSFORMS, isTransformName, type TransformName } from "../../../proxy/waf/transforms.js";

type Case = readonly [input: string, expected: string];

function apply(name: TransformName, input: string): string {
  const f = TRANSFORMS.get(name);
  if (f === undefined) throw new Error(`no transform ${name}`);
  return f(input);
}

function chain(names: readonly TransformName[], input: string): string {
  return names.reduce((v, n) => apply(n, v), input);
}

const CASES: Readonly<Record<TransformName, readonly Case[]>> = {
  none: [
    ["A%41&lt;", "A%41&lt;"],
    ["", ""],
  ],
  lowercase: [
    ["SeLeCt * FROM", "select * from"],
    ["already lower", "already lower"],
    ["\u212a", "k"], // Kelvin sign
    ["\uff33\uff25\uff2c", "\uff53\uff45\uff4c"], // full-width capitals
    ["\u00c3\u0089T", "\u00c3\u0089t"], // UTF-8 bytes of "É" stay intact
    ["\u00c0B\u0130", "\u00c0bi\u0307"],
  ],
  url_decode: [
    ["a+b%20c", "a b c"],
    ["%27%20OR%201=1", "' OR 1=1"],
    ["%2527", "%27"], // double encoding is decoded once only
    ["%3Cscript%3e", "<script>"],
    ["%C3%A9", "\u00c3\u00a9"], // bytes, not UTF-8 decoded
    ["%u0027", "%u0027"],
    ["%00x", "\0x"],
    ["\u00e9%41\u20ac", "\u00e9A\u20ac"],
    ["%", "%"],
    ["%2", "%2"],
    ["%zz%4", "%zz%4"],
    ["100%", "100%"],
    ["%%41", "%A"],
    ["plain", "plain"],
  ],
  url_decode_uni: [
    ["%u0027%20OR", "' OR"],
    ["%U003c", "<"],
    ["%uff1cscript%uFF1E", "<script>"],
    ["%u012f", "/"], // low byte, as ModSecurity
    ["%u", "%u"],
    ["%u00", "%u00"],
    ["%uzzzz", "%uzzzz"],
    ["%41+%u0041", "A A"],
    ["%%u0041", "%A"],
    ["%2525u0027", "%25u0027"],
  ],
  html_entity_decode: [
    ["&#x3c;script&#X3E;", "<script>"],
    ["&#x3cscript", "<script"],
    ["&#60;&#062;&#0000000060", "<><"],
    ["javascript&colon;alert&lpar;1&rpar;", "javascript:alert(1)"],
    ["&lt;&LT;&lt &QUOT;&apos;", "<<< \"'"],
    ["&Tab;&NewLine;&sol;&bsol;&lsqb;&rsqb;&lcub;&rcub;", "\t\n/\\[]{}"],
    ["&comma;&period;&excl;&num;&dollar;&percnt;&semi;&equals;&grave;&quest;&commat;", ",.!#$%;=`?@"],
    ["&nbsp;x", "\u00a0x"],
    ["&amp;lt;", "&lt;"],
    ["&colon", "&colon"], // only the legacy names work without ';'
    ["&ltscript", "&ltscript"],
    ["AT&T &unknown; & &&", "AT&T &unknown; & &&"],
    ["&#;&#x;&#", "&#;&#x;&#"],
    ["&#99999999999999;", "\ufffd"],
    ["&#x1F600;", "\u{1f600}"],
    ["&#xD800;", "\ud800"],
  ],
  js_decode: [
    ["\\x3cscript\\x3E", "<script>"],
    ["\\u003cscript\\u003E", "<script>"],
    ["\\uff1c", "<"],
    ["\\u{3c}\\u{1F600}", "<\u{1f600}"],
    ["\\u{110000}\\u{}\\u{3c", "u{110000}u{}u{3c"],
    ["\\74\\074\\400\\0", "<< 0\0"],
    ["\\n\\t\\r\\a\\b\\f\\v", "\n\t\r\x07\b\f\v"],
    ["\\'\\\"\\\\", "'\"\\"],
    ["al\\ert\\q", "alertq"],
    ["\\x4\\xZZ\\u12", "x4xZZu12"],
    ["abc\\", "abc\\"],
    ["no escapes", "no escapes"],
  ],
  css_decode: [
    ["\\3c script", "<script"],
    ["\\00003c", "<"],
    ["\\0000003c", "\ufffd3c"],
    ["java\\script", "javascript"],
    ["\\6a\\61vascript", "javascript"],
    ["\\27 OR", "'OR"],
    ["a\\\nb\\\r\nc", "abc"],
    ["abc\\", "abc"],
    ["\\ff1c", "<"],
    ["\\110000\\d800", "\ufffd\ufffd"],
    ["\\\\", "\\"],
    ["\\41\r\nB", "AB"],
    ["plain", "plain"],
  ],
  remove_nulls: [
    ["a\0b\0", "ab"],
    ["ab", "ab"],
  ],
  replace_nulls: [
    ["a\0b\0", "a b "],
    ["ab", "ab"],
  ],
  compress_whitespace: [
    ["a \t\n b\u00a0\u00a0c", "a b c"],
    ["  x  ", " x "],
    ["a\rb", "a b"],
    ["a b", "a b"],
  ],
  remove_whitespace: [
    [" a\tb\u00a0c \r\n\v\f", "abc"],
    ["abc", "abc"],
  ],
  normalize_path: [
    ["/a/b/../c", "/a/c"],
    ["/a/./b//c", "/a/b/c"],
    ["/../../etc/passwd", "/etc/passwd"],
    ["../a", "a"],
    ["a/../../b", "b"],
    ["/a/b/..", "/a/"],
    ["/a/.", "/a/"],
    ["/..", "/"],
    ["//", "/"],
    ["..", ""],
    ["", ""],
    ["a/b/", "a/b/"],
    ["/a/..b/c./...", "/a/..b/c./..."],
    ["/x/..%2f..%2fetc", "/x/..%2f..%2fetc"], // nothing is decoded here
  ],
  normalize_path_win: [
    ["c:\\windows\\..\\boot.ini", "c:/boot.ini"],
    ["\\\\server\\share\\..\\x", "/server/x"],
    ["..\\..\\windows\\win.ini", "windows/win.ini"],
    ["/a/b", "/a/b"],
  ],
  cmd_line: [
    ['w"h"o"a"m"i', "whoami"],
    ["W^H^O^A^M^I", "whoami"],
    ["w'h'o\\am\\i", "whoami"],
    ["cat,/etc/passwd", "cat/etc/passwd"],
    ["net  user ;\twhoami", "net user whoami"],
    ["ping  (x)", "ping(x)"],
    ['a " /b', "a/b"],
    ["C:\\Windows\\System32\\cmd.exe", "c:windowssystem32cmd.exe"],
    ["ls -la", "ls -la"],
  ],
  remove_comments: [
    ["SEL/**/ECT", "SELECT"],
    ["1 OR 1=1-- x\nnext", "1 OR 1=1\nnext"],
    ["1 OR 1=1#comment", "1 OR 1=1"],
    ["a<!-- x -->b", "ab"],
    ["a/* unterminated", "a"],
    ["a<!-- unterminated", "a"],
    ["/*/**/*/x", "*/x"],
    ["a-b", "a-b"],
  ],
  replace_comments: [
    ["SEL/**/ECT", "SEL ECT"],
    ["a/*x*/b/*y", "a b "],
    ["a*/b", "a*/b"],
  ],
  remove_comments_char: [
    ["SEL/**/ECT", "SELECT"],
    ["a<!--b-->c", "abc"],
    ["x#y--z*/", "xyz"],
    ["a-b", "a-b"],
  ],
  base64_decode: [
    ["SGVsbG8=", "Hello"],
    ["SGVsbG8", "Hello"],
    ["SGVs bG8=", "Hel"],
    ["PHNjcmlwdD4=", "<script>"],
    ["/w==", "\u00ff"],
    ["!!!", ""],
    ["", ""],
  ],
  base64_decode_ext: [
    ["SGVs bG8=", "Hello"],
    ["S.G.V.s.b.G.8", "Hello"],
    ["PHNj\r\ncmlwdD4", "<script>"],
    ["\u20ac", ""],
  ],
  hex_decode: [
    ["414243", "ABC"],
    ["41424", "AB"],
    ["41zz42", "A"],
    ["ff", "\u00ff"],
    ["4G", ""],
    ["", ""],
  ],
  sql_hex_decode: [
    ["SELECT 0x414243", "SELECT ABC"],
    ["0x61646d696e", "admin"],
    ["0X4a", "J"],
    ["0x4 0x", "0x4 0x"],
    ["x0x41", "xA"],
    ["0x414", "A4"],
    ["0x0x41", "0xA"],
    ["100", "100"],
  ],
  escape_seq_decode: [
    ["\\x41\\102\\n", "AB\n"],
    ["\\?\\'\\\"\\\\", "?'\"\\"],
    ["\\z\\x4\\", "\\z\\x4\\"],
    ["\\0", "\0"],
    ["plain", "plain"],
  ],
  utf8_to_unicode: [
    ["caf\u00c3\u00a9", "caf%u00e9"],
    ["\u00e2\u0082\u00ac", "%u20ac"],
    ["\u00f0\u009f\u0098\u0080", "%u1f600"],
    ["\u00c0\u00af", "%u002f"], // overlong '/'
    ["\u00c3", "\u00c3"],
    ["\u00c3A\u00ff", "\u00c3A\u00ff"],
    ["\u20ac\u{1f600}\ud800", "%u20ac%u1f600%ud800"],
    ["abc", "abc"],
  ],
  trim: [
    ["  a b \t\n", "a b"],
    ["\u00a0x\u00a0", "x"],
    ["   ", ""],
    ["x", "x"],
  ],
  length: [
    ["abcd", "4"],
    ["", "0"],
    ["\u00c3\u00a9", "2"],
  ],
};

for (const [name, cases] of Object.entries(CASES) as [TransformName, readonly Case[]][]) {
  test(`${name}: table`, (t) => {
    for (const [input, expected] of cases) t.is(apply(name, input), expected, JSON.stringify(input));
  });
}

test("the registry knows exactly the documented names", (t) => {
  t.is(TRANSFORMS.size, Object.keys(CASES).length);
  for (const name of Object.keys(CASES)) t.true(isTransformName(name), name);
  for (const bad of ["urlDecode", "LOWERCASE", "", "toString", "__proto__", "constructor"]) {
    t.false(isTransformName(bad), bad);
  }
});

test("evasion chains decode to what the application sees", (t) => {
  t.is(chain(["url_decode", "normalize_path"], "/static/..%2f..%2fetc/passwd"), "/etc/passwd");
  t.is(chain(["url_decode_uni", "normalize_path_win"], "/a/..%5c..%5cwindows%u005cwin.ini"), "/windows/win.ini");
  t.is(chain(["url_decode", "utf8_to_unicode", "url_decode_uni"], "%c0%afetc"), "/etc");
  t.is(chain(["url_decode"], "%253Cscript"), "%3Cscript");
  t.is(chain(["url_decode", "url_decode"], "%253Cscript"), "<script");
  t.is(chain(["html_entity_decode", "lowercase"], "&#x3C;SCRIPT&#62;"), "<script>");
  t.is(chain(["url_decode_uni", "html_entity_decode", "js_decode"], "%26%23x5c;x3cimg"), "<img");
  t.is(chain(["url_decode", "remove_comments", "lowercase"], "UNION%2F%2A%2A%2FSEL/*x*/ECT"), "unionselect");
  t.is(chain(["base64_decode", "lowercase"], "PFNDUklQVD4="), "<script>");
  t.is(chain(["remove_nulls", "cmd_line"], "c\0a\0t /etc/pa''sswd"), "cat/etc/passwd");
});

/** Random strings over characters that trigger the decoders. */
const ALPHABET = [
  "a", "A", "/", ".", "\\", " ", "\t", "\n", "%", "u", "0", "2", "f", "F", "&", "#", ";", "x", "3", "c",
  "*", "-", "<", "!", ">", "\0", ",", "'", '"', "^", "(", "{", "}", "=", "\u00a0", "\u00c3", "\u00a9",
  "\u00c0", "\ud800", "\udc00", "\u212a", "\uff1c", "\u20ac",
];

function randomStrings(count: number, seed: number): string[] {
  let x = seed >>> 0;
  const next = (): number => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x;
  };
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    let s = "";
    const len = next() % 24;
    for (let j = 0; j < len; j++) s += ALPHABET[next() % ALPHABET.length];
    out.push(s);
  }
  return out;
}

const IDEMPOTENT: readonly TransformName[] = [
  "none",
  "lowercase",
  "remove_nulls",
  "replace_nulls",
  "compress_whitespace",
  "remove_whitespace",
  "normalize_path",
  "normalize_path_win",
  "cmd_line",
  "replace_comments",
  "trim",
];

test("transforms are total on random and malformed input", (t) => {
  const inputs = [
    ...randomStrings(2000, 7),
    "\ud800",
    "\udfff\ud800",
    "%",
    "%u",
    "%uD83",
    "&#x",
    "&#x110000",
    "\\u{",
    "\\",
    "/*",
    "<!--",
    "0x",
  ];
  for (const [name, f] of TRANSFORMS) {
    for (const s of inputs) {
      const r = f(s);
      if (typeof r !== "string") t.fail(`${name} returned ${typeof r} for ${JSON.stringify(s)}`);
    }
  }
  t.pass();
});

test("url_decode agrees with unescape on %XX and '+' (differential)", (t) => {
  const alphabet = ["%", "4", "1", "a", "F", "G", "x", "+", " ", "\u00e9", "\u20ac"];
  let x = 99;
  for (let i = 0; i < 3000; i++) {
    let s = "";
    for (let j = 0; j < 30; j++) {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      s += alphabet[x % alphabet.length];
    }
    const expected = unescape(s.replaceAll("+", " "));
    if (apply("url_decode", s) !== expected) t.fail(JSON.stringify(s));
  }
  t.pass();
});

test("binary decoders round-trip random bytes", (t) => {
  let x = 5;
  for (let i = 0; i < 500; i++) {
    const bytes = Buffer.alloc(i % 67);
    for (let j = 0; j < bytes.length; j++) {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      bytes[j] = x >>> 24;
    }
    const latin1 = bytes.toString("latin1");
    const b64 = bytes.toString("base64");
    t.is(apply("base64_decode", b64), latin1);
    t.is(apply("base64_decode_ext", b64.replace(/(.{4})/g, "$1\r\n")), latin1);
    t.is(apply("hex_decode", bytes.toString("hex")), latin1);
    if (bytes.length > 0) t.is(apply("sql_hex_decode", `x=0x${bytes.toString("hex")};`), `x=${latin1};`);
  }
});

test("long mixed input keeps runs and decoded chars in order", (t) => {
  const unit = "%41" + "b".repeat(20) + "%42cd";
  t.is(apply("url_decode", unit.repeat(5000)), ("A" + "b".repeat(20) + "Bcd").repeat(5000));
  t.is(apply("js_decode", "\\x41x\\u0042y".repeat(3000)), "AxBy".repeat(3000));
});

test("normalisers are idempotent", (t) => {
  for (const s of randomStrings(3000, 42)) {
    for (const name of IDEMPOTENT) {
      const once = apply(name, s);
      const twice = apply(name, once);
      if (once !== twice) t.fail(`${name} not idempotent on ${JSON.stringify(s)}: ${JSON.stringify(once)}`);
    }
  }
  t.pass();
});

test("no-op inputs come back unchanged", (t) => {
  const benign = "hello world this is a value 12";
  for (const [name, f] of TRANSFORMS) {
    if (["base64_decode", "base64_decode_ext", "hex_decode", "length", "remove_whitespace"].includes(name)) continue;
    t.is(f(benign), benign, name);
  }
});

const KIB128 = 128 * 1024;

function fill(unit: string): string {
  return unit.repeat(Math.ceil(KIB128 / unit.length)).slice(0, KIB128);
}

const PATHOLOGICAL = [
  "%", "%u", "%u00", "%2", "+", "/*", "*/", "<!--", "--", "#", "&#", "&#x", "&a", "&", "\\", "\\u{", "\\u",
  "\\x", "\\0", "0x", "0x4", "/..", "/", "./", "a/", "\u00c3", "\u00e2\u0082", "\ud800", "A", "\u00c0a",
  " \t", "\"", "^ ", " /", "\0",
].map(fill);
PATHOLOGICAL.push("&#" + "1".repeat(KIB128), "\\u{" + "0".repeat(KIB128), "\\" + "f".repeat(KIB128));

test("128 KiB pathological inputs finish well under 100 ms each", (t) => {
  let worst = 0;
  let worstLabel = "";
  for (const [name, f] of TRANSFORMS) {
    for (const s of PATHOLOGICAL) {
      // Best of three, so a GC pause or a busy shared machine does not decide the outcome.
      let best = Infinity;
      for (let r = 0; r < 3; r++) {
        const t0 = process.hrtime.bigint();
        f(s).charCodeAt(0); // forces a flat result
        best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e6);
      }
      if (best > worst) {
        worst = best;
        worstLabel = `${name} on ${JSON.stringify(s.slice(0, 8))}...`;
      }
    }
  }
  t.log(`slowest: ${worst.toFixed(2)} ms (${worstLabel})`);
  t.true(worst < 100, worstLabel);
});

test("megabyte-sized inputs decode in linear memory without deep recursion", (t) => {
  const n = 1 << 18;
  t.is(apply("url_decode", "%41".repeat(n)), "A".repeat(n));
  t.is(apply("html_entity_decode", "&lt;".repeat(n)), "<".repeat(n));
  t.is(apply("utf8_to_unicode", "\u00c3\u00a9".repeat(n)), "%u00e9".repeat(n));
  t.is(apply("cmd_line", '"A'.repeat(n)), "a".repeat(n));
});
