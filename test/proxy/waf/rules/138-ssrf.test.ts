import test from "ava";
import { join } from "node:path";
import { DEFAULT_SETTINGS, WafEngine, type WafVerdict } from "../../../../proxy/waf/engine.js";
import { loadRules } from "../../../../proxy/waf/rule-file.js";
import { bundledRulesDir } from "../../../../proxy/waf/settings.js";
import type { WafInput } from "../../../../proxy/waf/types.js";

const rules = loadRules(join(bundledRulesDir(), "138-ssrf.yaml"));
const engines = new Map<number, WafEngine>();

function engineAt(paranoia: number): WafEngine {
  let e = engines.get(paranoia);
  if (e === undefined) {
    e = new WafEngine(rules, { ...DEFAULT_SETTINGS, paranoia, detectionParanoia: paranoia });
    engines.set(paranoia, e);
  }
  return e;
}

// rawquery: the query string exactly as sent; path: the request path exactly as sent;
// jsonraw: a whole JSON body; plain: a text/plain body (no parser takes it apart);
// header: an application header (x-api-version); ctype: the Content-Type header.
type Place =
  | "query"
  | "rawquery"
  | "form"
  | "json"
  | "jsonraw"
  | "plain"
  | "cookie"
  | "header"
  | "ctype"
  | "ua"
  | "referer"
  | "xml"
  | "upload"
  | "x-filename"
  | "path";

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
    case "jsonraw":
      return post("application/json", value);
    case "plain":
      return post("text/plain", value);
    case "xml":
      return post("application/xml", `<?xml version="1.0"?><r><v a="${value.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;")}"/></r>`);
    case "cookie":
      return get("/app", ["cookie", `a=1; v=${value}`]);
    case "header":
      return get("/app", ["x-api-version", value]);
    case "ctype":
      return get("/app", ["content-type", value]);
    case "x-filename":
      return get("/app", ["x-filename", value]);
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
  ["query", "http://169.254.169.254/latest/meta-data/", 1],
  ["json", "http://metadata.google.internal/computeMetadata/v1/", 1],
  ["query", "http://[fd00:ec2::254]/latest/", 1],
  ["query", "http://100.100.100.200/latest/meta-data", 1],
  ["query", "http://2852039166/", 1],
  ["query", "http://0xa9fea9fe/", 1],
  ["query", "http://0251.0376.0251.0376/", 1],
  ["query", "http://[::ffff:a9fe:a9fe]/", 1],
  ["form", "http://localhost:6379/", 1],
  ["query", "http:127.0.0.1", 1],
  ["cookie", "http://[::1]:8080/admin", 1],
  ["query", "https://127.0.0.1.nip.io/", 1],
  ["jsonraw", "{\"webhook\":\"http://kubernetes.default.svc/api\"}", 1],
  ["rawquery", "http://0.0.0.0:2375/containers/json=x", 1],
  ["query", "localhost/admin", 1],
  ["query", "host.docker.internal/", 1],
  ["xml", "localhost:8080/", 1],
  ["query", "gopher://127.0.0.1:6379/_FLUSHALL", 1],
  ["query", "dict://internal.example:11211/stat", 1],
  ["query", "file:///etc/passwd", 1],
  ["query", "jar:http://evil.example/a.jar!/x.class", 1],
  ["query", "http://10.1.2.3/admin", 2],
  ["query", "http://192.168.0.1:8080/", 2],
  ["query", "http://3232235777/", 2],
  ["query", "http://0x7f.0x0.0x0.0x1/", 2],
  ["query", "http://[fe80::1%25eth0]/", 2],
  ["query", "xri://[0:0:0:0:0:ffff:10.0.0.1]", 2],
  ["query", "http://google.com:80 &@127.88.23.245:22/", 2],
  ["query", "http://\\\\l\\\\o\\\\c\\\\a\\\\l\\\\h\\\\o\\\\s\\\\t/", 2],
  ["query", "169.254.169.254/latest/user-data", 2],
];

for (const [place, payload, pl] of ATTACKS) {
  test(`blocks at PL${pl} (${place}): ${JSON.stringify(payload)}`, (t) => {
    const v = verdict(pl, place, payload);
    t.is(v.action, "block", JSON.stringify(v.matches.map((m) => m.id)));
    t.true(v.matches.every((m) => m.id >= 138000 && m.id <= 138999));
    if (pl > 1) t.is(verdict(pl - 1, place, payload).action, "pass", "belongs to the stricter level only");
  });
}

// Benign values that must pass at PL1; those marked true must also pass at PL2.
const BENIGN: readonly (readonly [Place, string, boolean])[] = [
  ["query", "https://example.com/callback", true],
  ["query", "http://www.example.org/page?x=1", true],
  ["query", "localhost", true],
  ["query", "mylocalhost/", true],
  ["query", "db01.internal", true],
  ["form", "See 192.168.1.1 for the router", true],
  ["query", "version 10.0.0.1", true],
  ["query", "https://metadata.example.com/x", true],
  ["query", "https://localhost.example.com/", true],
  ["query", "filename: data.csv", true],
  ["query", "time:0", true],
  ["json", "ftp://ftp.example.org/pub/file", true],
  ["query", "https://[2001:db8::1]/", false],
  ["query", "gopherjs is a compiler", true],
  ["query", "https://example.com:8443/x", true],
  ["form", "the ldap server is down", true],
  ["query", "mailto:user@localhost", true],
  ["query", "http://example.com/a@b", true],
  ["query", "https://user:pass@example.com/", true],
  ["query", "127.0.0.1", true],
  ["json", "file: report.pdf", true],
  ["form", "metadata: updated", true],
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

test("every rule is in the file's id range and carries the attack-ssrf and owasp-a10 tags", (t) => {
  t.true(rules.length >= 8);
  for (const r of rules) {
    t.true(r.id >= 138000 && r.id <= 138999, String(r.id));
    t.true(r.tags.includes("attack-ssrf") && r.tags.includes("owasp-a10"), String(r.id));
  }
});
