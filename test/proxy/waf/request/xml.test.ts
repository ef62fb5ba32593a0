import test from "ava";
import { one, pairs, post } from "./helpers.js";

const xml = (body: string, lim = {}) => post("application/xml", body, lim);

test("text nodes by element path, attributes as path@name", (t) => {
  const p = xml(
    '<?xml version="1.0" encoding="UTF-8"?>\n<!-- c -->\n<root id="7"><a href="http://x/?a=1&amp;b=2">link</a>\n  <b:c xmlns:b="urn:b">t1<d/>t2<![CDATA[<raw>&amp;]]></b:c><e k=\'v\' /></root>\n',
  );
  t.deepEqual(pairs(p, "xml"), [
    ["/root@id", "7"],
    ["/root/a@href", "http://x/?a=1&b=2"],
    ["/root/a", "link"],
    ["/root/b:c@xmlns:b", "urn:b"],
    ["/root/b:c", "t1"],
    ["/root/b:c", "t2<raw>&amp;"],
    ["/root/e@k", "v"],
  ]);
  t.is(one(p, "body_processor"), "xml");
  t.false(p.collections.has("body_error"));
  // XML values are not args.
  t.false(p.collections.has("args"));
});

test("entities: predefined and character references decoded, others never expanded", (t) => {
  const p = xml("<r a='&#60;x&#x3E;'>&lt;script&gt; &quot;&apos;&amp; &#233; &custom; &#x1F600;</r>");
  t.deepEqual(pairs(p, "xml"), [
    ["/r@a", "<x>"],
    ["/r", "<script> \"'& \u00c3\u00a9 &custom; \u00f0\u009f\u0098\u0080"],
  ]);
  t.false(p.collections.has("body_error"));
});

test("DOCTYPE and ENTITY declarations are reported whole for XXE rules", (t) => {
  const doc =
    '<?xml version="1.0"?>\n<!DOCTYPE foo [ <!-- ] > --> <!ENTITY xxe SYSTEM "file:///etc/passwd"> <!ENTITY q \'a>]b\'> ]>';
  const p = xml(doc + "\n<foo>&xxe;</foo>");
  const d = pairs(p, "xml");
  t.deepEqual(d[0], ["!entity", '<!ENTITY xxe SYSTEM "file:///etc/passwd">']);
  t.deepEqual(d[1], ["!entity", "<!ENTITY q 'a>]b'>"]);
  t.deepEqual(d[2], ["!doctype", doc.slice(doc.indexOf("<!DOCTYPE"))]);
  t.deepEqual(d[3], ["/foo", "&xxe;"]);
  t.false(p.collections.has("body_error"));
  const q = xml('<!DOCTYPE r SYSTEM "http://evil/x.dtd"><r/>');
  t.deepEqual(pairs(q, "xml"), [["!doctype", '<!DOCTYPE r SYSTEM "http://evil/x.dtd">']]);
});

test("malformed XML is a body_error", (t) => {
  const bad: [string, RegExp][] = [
    ["test", /text outside the root/],
    ["  \n", /no root element/],
    ["<?xml version='1.0'?><!-- only a comment -->", /no root element/],
    ["<a><b></a>", /mismatched end tag/],
    ["<a></a><b></b>", /more than one root/],
    ["<a x=1></a>", /unquoted attribute/],
    ['<a x="1" x="2"></a>', /duplicate attribute/],
    ['<a x="<"></a>', /"<" in attribute/],
    ["<a>", /unclosed element <a>/],
    ["<a><!-- x</a>", /unexpected end/],
    ["<a>&bogus</a>", /invalid reference/],
    ["<a>&#xZZ;</a>", /invalid reference/],
    ["<a></a><!DOCTYPE x>", /misplaced DOCTYPE/],
    ["<![CDATA[x]]><a/>", /CDATA outside/],
    ["<a><!ELEMENT x></a>", /unexpected markup/],
    ['<a x="1"y="2"/>', /missing whitespace/],
    ["< a/>", /invalid tag/],
  ];
  for (const [body, re] of bad) t.regex(one(xml(body), "body_error") ?? "", re, body);
  // What was read before the error is kept.
  t.deepEqual(pairs(xml("<r><a>ok</a><b></c></r>"), "xml"), [["/r/a", "ok"]]);
});

test("elements deeper than the limit are not emitted", (t) => {
  const p = xml("<a><b><c>deep</c></b><x>ok</x></a>", { depth: 2 });
  t.deepEqual(p.exceeded, ["depth"]);
  t.deepEqual(pairs(p, "xml"), [["/a/x", "ok"]]);
  t.false(p.collections.has("body_error"));
});

test("an XML body cut by the byte limit is not an error", (t) => {
  const p = xml("<a><b>" + "x".repeat(100) + "</b></a>", { bodyBytes: 50 });
  t.deepEqual(p.exceeded, ["body_bytes"]);
  t.false(p.collections.has("body_error"));
});
