import test from "ava";
import { join } from "node:path";
import { DEFAULT_SETTINGS, WafEngine, type WafVerdict } from "../../../../proxy/waf/engine.js";
import { loadRules } from "../../../../proxy/waf/rule-file.js";
import { bundledRulesDir } from "../../../../proxy/waf/settings.js";
import type { WafInput } from "../../../../proxy/waf/types.js";

const rules = loadRules(join(bundledRulesDir(), "137-generic.yaml"));
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
  ["query", "require('child_process').exec('id')", 1],
  ["json", "_$$ND_FUNC$$_function(){require('child_process').exec('ls')}()", 1],
  ["cookie", Buffer.from("_$$ND_FUNC$$_function(){}()").toString("base64"), 1],
  ["form", Buffer.from("x=1;require('child_process').execSync('id')").toString("base64"), 1],
  ["query", "this.constructor.constructor('return process')()", 1],
  ["form", "process.mainModule.require('fs')", 1],
  ["json", "global.process.env", 1],
  ["cookie", "\\u0072equire('child_process')", 1],
  ["xml", "process.env.SECRET", 1],
  ["query", "console.log(document.cookie)", 1],
  ["query", "while(true){}", 1],
  ["form", "while(!0);", 1],
  ["query", "for(;;){}", 1],
  ["rawquery", "__proto__[isAdmin]=true", 1],
  ["jsonraw", "{\"user\":{\"__proto__\":{\"isAdmin\":true}}}", 1],
  ["rawquery", "constructor[prototype][isAdmin]=1", 1],
  ["rawquery", "a[constructor][prototype][onerror]=alert(1)", 1],
  ["form", "Process.spawn('id')", 1],
  ["query", "Kernel.exec('ls')", 1],
  ["json", "__import__('os').system('id')", 1],
  ["query", "''.__class__.__mro__[1].__subclasses__()", 1],
  ["form", "subprocess.check_output(['id'])", 1],
  ["query", "data:text/html,<script>alert(1)</script>", 1],
  ["jsonraw", "{\"data:text/plain\":\"foo\"}", 1],
  ["query", "@{[system 'id']}", 2],
  ["rawquery", "user__profile__email__icontains=admin", 2],
  ["plain", "{\"user__groups__name__startswith\":\"adm\"}", 2],
  ["path", "/run/require('child_process')", 2],
  ["rawquery", "password__isnull=true", 3],
];

for (const [place, payload, pl] of ATTACKS) {
  test(`blocks at PL${pl} (${place}): ${JSON.stringify(payload)}`, (t) => {
    const v = verdict(pl, place, payload);
    t.is(v.action, "block", JSON.stringify(v.matches.map((m) => m.id)));
    t.true(v.matches.every((m) => m.id >= 137000 && m.id <= 137999));
    if (pl > 1) t.is(verdict(pl - 1, place, payload).action, "pass", "belongs to the stricter level only");
  });
}

// Benign values that must pass at PL1; those marked true must also pass at PL2.
const BENIGN: readonly (readonly [Place, string, boolean])[] = [
  ["form", "We need to process the order today", true],
  ["form", "Finish the process. Exit the building calmly.", true],
  ["form", "Please eval (draft) by Friday", true],
  ["form", "while (you wait) enjoy a coffee", true],
  ["form", "Try our new dashboard function", true],
  ["json", "constructor: Bob the builder", true],
  ["query", "prototype design phase", true],
  ["form", "I require (urgent) help", true],
  ["query", "console games", true],
  ["json", "data: text of the note", true],
  ["json", "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==", true],
  ["json", "data:application/pdf;base64,JVBERi0xLjQK", true],
  ["rawquery", "username__startswith=p", true],
  ["jsonraw", "{\"__typename\":\"User\",\"id\":1}", true],
  ["rawquery", "array[0][name]=x", true],
  ["query", "function of x", true],
  ["form", "Ruby on Rails IO", true],
  ["form", "os.path.join usage", true],
  ["form", "Python's __init__ method", true],
  ["form", "My list: @{name}", true],
  ["jsonraw", "{\"a\":[1,2,3],\"b\":{\"c\":\"d\"}}", true],
  ["cookie", "GA1.2.123456789.987654321", true],
  ["query", "SGVsbG8gd29ybGQ=", true],
  ["plain", "{\"name__exact\":\"a\",\"city__in\":\"b\"}", true],
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

test("every rule is in the file's id range and carries the attack-injection-generic and owasp-a03 tags", (t) => {
  t.true(rules.length >= 8);
  for (const r of rules) {
    t.true(r.id >= 137000 && r.id <= 137999, String(r.id));
    t.true(r.tags.includes("attack-injection-generic") && r.tags.includes("owasp-a03"), String(r.id));
  }
});
