import test from "ava";
import { join } from "node:path";
import { DEFAULT_SETTINGS, WafEngine, type WafVerdict } from "../../../../proxy/waf/engine.js";
import { loadRules } from "../../../../proxy/waf/rule-file.js";
import { bundledRulesDir } from "../../../../proxy/waf/settings.js";
import type { WafInput } from "../../../../proxy/waf/types.js";

const rules = loadRules(join(bundledRulesDir(), "131-rfi.yaml"));
const engines = new Map<number, WafEngine>();

function engineAt(paranoia: number): WafEngine {
  let e = engines.get(paranoia);
  if (e === undefined) {
    e = new WafEngine(rules, { ...DEFAULT_SETTINGS, paranoia, detectionParanoia: paranoia });
    engines.set(paranoia, e);
  }
  return e;
}

// rawquery: the query string exactly as sent; path: the request path exactly as sent.
type Place = "query" | "rawquery" | "form" | "json" | "cookie" | "header" | "ua" | "referer" | "xml" | "upload" | "path";

function request(place: Place, value: string): WafInput {
  const host: [string, string] = ["host", "x"];
  const get = (uri: string, ...headers: [string, string][]): WafInput => ({ method: "GET", uri, protocol: "HTTP/1.1", headers: [host, ...headers] });
  const post = (type: string, body: string): WafInput => ({
    method: "POST",
    uri: "/app",
    protocol: "HTTP/1.1",
    headers: [host, ["content-type", type]],
    body: Buffer.from(body, "latin1"),
  });
  switch (place) {
    case "query":
      return get(`/app?v=${encodeURIComponent(value)}`);
    case "rawquery":
      return get(`/app?${value}`);
    case "form":
      return post("application/x-www-form-urlencoded", `v=${encodeURIComponent(value)}`);
    case "json":
      return post("application/json", JSON.stringify({ data: { v: value } }));
    case "xml":
      return post("application/xml", `<?xml version="1.0"?><r><v a="${value.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;")}"/></r>`);
    case "cookie":
      return get("/app", ["cookie", `a=1; v=${value}`]);
    case "header":
      return get("/app", ["x-original-path", value]);
    case "ua":
      return get("/app", ["user-agent", value]);
    case "referer":
      return get("/app", ["referer", value]);
    case "path":
      return get(value);
    case "upload": {
      const b = "----b0undary";
      const body = `--${b}\r\nContent-Disposition: form-data; name="f"; filename="${value}"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--${b}--\r\n`;
      return post(`multipart/form-data; boundary=${b}`, body);
    }
  }
}

function verdict(paranoia: number, place: Place, value: string): WafVerdict {
  return engineAt(paranoia).evaluate(request(place, value), { route: "", path: "/app" });
}

// [place, payload, lowest paranoia level that blocks it]
const ATTACKS: readonly (readonly [Place, string, number])[] = [
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

for (const [place, payload, pl] of ATTACKS) {
  test(`blocks at PL${pl} (${place}): ${JSON.stringify(payload)}`, (t) => {
    const v = verdict(pl, place, payload);
    t.is(v.action, "block", JSON.stringify(v.matches.map((m) => m.id)));
    t.true(v.matches.every((m) => m.id >= 131000 && m.id <= 131999));
    if (pl > 1) t.is(verdict(pl - 1, place, payload).action, "pass", "belongs to the stricter level only");
  });
}

// Benign values that must pass at PL1; those marked true must also pass at PL2.
const BENIGN: readonly (readonly [Place, string, boolean])[] = [
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

for (const [place, value, alsoPl2] of BENIGN) {
  test(`passes at PL1${alsoPl2 ? " and PL2" : ""} (${place}): ${JSON.stringify(value)}`, (t) => {
    const v1 = verdict(1, place, value);
    t.is(v1.action, "pass", JSON.stringify(v1.matches.map((m) => `${m.id}:${m.match}`)));
    if (alsoPl2) {
      const v2 = verdict(2, place, value);
      t.is(v2.action, "pass", JSON.stringify(v2.matches.map((m) => `${m.id}:${m.match}`)));
    }
  });
}

test("every rule is in the file's id range and carries the attack-rfi and owasp-a03 tags", (t) => {
  t.true(rules.length >= 5);
  for (const r of rules) {
    t.true(r.id >= 131000 && r.id <= 131999, String(r.id));
    t.true(r.tags.includes("attack-rfi") && r.tags.includes("owasp-a03"), String(r.id));
  }
});
