import test from "ava";
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
];

testPasses(file, placeCases(BENIGN, request));

test("every rule is in the file's id range and carries the attack-rfi and owasp-a03 tags", (t) => {
  t.true(file.rules.length >= 5);
  checkRules(t, file, ["attack-rfi", "owasp-a03"]);
});
