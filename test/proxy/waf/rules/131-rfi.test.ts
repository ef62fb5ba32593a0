import test from "ava";
import { DEFAULT_SETTINGS, WafEngine } from "../../../../proxy/waf/engine.js";
import { parseRequest } from "../../../../proxy/waf/request/parse.js";
import { appRequests, checkRules, placeCases, ruleFile, testBlocks, testPasses, type AppPlace } from "./support.js";

const file = ruleFile("131-rfi.yaml", "/app");
const request = appRequests({ encoding: "latin1", xml: "attribute", header: "x-original-path" });

// [place, payload, lowest paranoia level that blocks it]
const ATTACKS: readonly (readonly [AppPlace, string, number])[] = [
  ["query", "http://66.240.183.75/shell.txt", 1],
  ["query", "https://[2001:db8::1]/gecko.php", 1],
  ["query", "https://2001:41d0:701:1100::29c8/gecko.php", 1],
  ["json", "http://10.0.0.5:8080/admin.php", 1],
  ["xml", "ftp%3A%2F%2F203.0.113.9%2Fx.txt", 1],
  ["rawquery", "_CONF[path]=https://evil.example/x.txt", 1],
  ["rawquery", "mosConfig_absolute_path=http://evil.example/x.txt", 1],
  ["rawquery", "template_path=https://evil.example/t.php", 1],
  ["rawquery", "include=https%3A%2F%2Fevil.example%2Fx.txt", 1],
  ["rawquery", "lib_dir=\\\\evil.example\\share\\x.php", 1],
  ["query", "http://evil.example/shell.txt?", 1],
  ["query", "ftp://evil.example/x.txt?", 1],
  ["query", "https?", 1],
  ["form", "http://evil.example/x.php\u0000", 1],
  ["json", "php://filter/convert.base64-encode/resource=index.php", 1],
  ["query", "phar://uploads/avatar.jpg/shell.php", 1],
  ["xml", "expect://id", 1],
  ["query", "zip://uploads/a.zip#shell.php", 1],
  ["query", "data://text/plain;base64,PD9waHAgc3lzdGVtKCRfR0VUWydjJ10pOz8+", 1],
  ["cookie", "php://input", 1],
  ["query", "https://evil.example/payload.js", 2],
  ["query", "ftp://files.example.org/pub/x", 2],
  ["query", "url:file:///etc/passwd", 2],
  ["query", "gopher://evil.example/_x", 2],
  ["path", "/proxy/http://evil.example/x", 2],
  // another host, however it is written: a look-alike of the request's host (x), encoded twice, entities, NULs
  ["query", "https://x.evil.example/a.php", 2],
  ["query", "https://evil.example@/x", 2],
  ["rawquery", "next=https%253A%252F%252Fevil.example%252Fa", 2],
  ["query", "https&#58;//evil.example/a", 2],
  ["form", "ht\u0000tp://evil.example/a", 2],
  ["json", "  url:https://evil.example/a", 2],
  ["xml", "ftp://evil.example/feed", 2],
  // another server on the request's host, and userinfo tricks that some URL parsers read as the host
  ["query", "https://x:8443/admin", 2],
  ["rawquery", "next=http://x%2f@evil.example/a", 2],
  ["rawquery", "next=http://x%2f:pw@evil.example/a", 2],
];

testBlocks(file, placeCases(ATTACKS, request));

// Benign values that must pass at PL1; those marked true must also pass at PL2.
const BENIGN: readonly (readonly [AppPlace, string, boolean])[] = [
  ["query", "https://example.com/page", false],
  ["query", "http://www.example.com/search?q=shoes", false],
  ["rawquery", "next=https%3A%2F%2Fexample.com%2Faccount", false],
  ["xml", "https://example.com/feed", false],
  ["form", "Visit http://example.com for details", true],
  ["query", "what is http?", true],
  ["query", "https", true],
  ["form", "Is FTP? still used", true],
  ["json", "version 1.2.3.4", true],
  ["query", "192.168.1.10", true],
  ["form", "file: report.pdf", true],
  ["rawquery", "path=%2Fimages%2Fa.png", true],
  ["rawquery", "include=header.php", true],
  ["query", "docs/php/intro", true],
  ["path", "/blog/how-to-use-http-caching", true],
  ["cookie", "theme=dark", true],
  ["query", "mailto:someone@example.com", true],
  ["query", "tel:+1-555-0100", true],
  ["query", "urn:isbn:0451450523", true],
  ["form", "zip code 12345", true],
  ["form", "data science and metadata: a primer", true],
  ["ua", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36", true],
  // links back to the request's own host (x) or a subdomain of it pass at every level, as in CRS
  ["query", "https://x/account/orders", true],
  ["query", "http://X/cart?item=1&back=http://x.evil.example/", true],
  ["query", "https://user:pw@x/a", true],
  ["rawquery", "next=https%3A%2F%2Fshop.x%2Fcheckout", true],
  ["json", "https://cdn.x/img/a.png", true],
  ["xml", "https://x/feed", true],
];

testPasses(file, placeCases(BENIGN, request));

test("every rule is in the file's id range and carries the attack-rfi and owasp-a03 tags", (t) => {
  t.true(file.rules.length >= 5);
  checkRules(t, file, ["attack-rfi", "owasp-a03"]);
});

test("args_url_site names each URL parameter and is only made when a rule targets it", (t) => {
  const input = request("rawquery", "a=https://x/1&b=plain&c=http://evil.example/&d=file:///etc/passwd");
  const req = parseRequest(input);
  t.deepEqual(req.collections.get("args_url_site"), [
    { name: "a", value: "same" },
    { name: "c", value: "cross" },
    { name: "d", value: "cross" },
  ]);
  t.is(parseRequest(input, undefined, { urlSites: false }).collections.get("args_url_site"), undefined);
  // the exclusion by parameter name users write for a known redirect parameter
  const ex = new WafEngine(file.rules, { ...DEFAULT_SETTINGS, paranoia: 2, detectionParanoia: 2, exclusions: [{ removeTargets: [{ rules: [131140, 131140], target: "args_url_site:c" }] }] });
  t.deepEqual(
    ex.evaluate(input, { route: "", path: "/app" }).matches.filter((m) => m.id === 131140).map((m) => m.target),
    ["args_url_site:d"],
  );
});
