import test from "ava";
import { join } from "node:path";
import { DEFAULT_SETTINGS, WafEngine, type WafVerdict } from "../../../../proxy/waf/engine.js";
import { loadRules } from "../../../../proxy/waf/rule-file.js";
import { bundledRulesDir } from "../../../../proxy/waf/settings.js";
import type { WafInput } from "../../../../proxy/waf/types.js";

const rules = loadRules(join(bundledRulesDir(), "136-ssti.yaml"));
const engines = new Map<number, WafEngine>();

function engineAt(paranoia: number): WafEngine {
  let e = engines.get(paranoia);
  if (e === undefined) {
    e = new WafEngine(rules, { ...DEFAULT_SETTINGS, paranoia, detectionParanoia: paranoia });
    engines.set(paranoia, e);
  }
  return e;
}

type Place = "query" | "form" | "json" | "cookie" | "ua" | "referer" | "xml" | "upload" | "x-filename";

function request(place: Place, value: string): WafInput {
  const base = { method: "GET", uri: "/app", protocol: "HTTP/1.1" };
  const host: [string, string] = ["host", "x"];
  const post = (type: string, body: string): WafInput => ({
    ...base,
    method: "POST",
    headers: [host, ["content-type", type]],
    body: Buffer.from(body),
  });
  switch (place) {
    case "query":
      return { ...base, uri: `/app?v=${encodeURIComponent(value)}`, headers: [host] };
    case "form":
      return post("application/x-www-form-urlencoded", `v=${encodeURIComponent(value)}`);
    case "json":
      return post("application/json", JSON.stringify({ data: { v: value } }));
    case "xml":
      return post("application/xml", `<?xml version="1.0"?><r><v>${value.replace(/&/g, "&amp;").replace(/</g, "&lt;")}</v></r>`);
    case "cookie":
      return { ...base, headers: [host, ["cookie", `a=1; v=${value}`]] };
    case "ua":
      return { ...base, headers: [host, ["user-agent", value]] };
    case "referer":
      return { ...base, headers: [host, ["referer", value]] };
    case "x-filename":
      return { ...base, headers: [host, ["x-filename", value]] };
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
  ["query", "{{7*7}}", 1],
  ["form", "{{ 7 * '7' }}", 1],
  ["json", "{{ ''.__class__.__mro__[1].__subclasses__() }}", 1],
  ["query", "${7*7}", 1],
  ["cookie", "#{7*7}", 1],
  ["form", "<%= 7*7 %>", 1],
  ["form", "<%= system(\"id\") %>", 1],
  ["form", "<%= `id` %>", 1],
  ["query", "{{config.items()}}", 1],
  ["form", "{{request.application.__globals__.__builtins__.__import__('os').popen('id').read()}}", 1],
  ["form", "{{lipsum.__globals__.os.popen('id').read()}}", 1],
  ["xml", "{{_self.env.registerUndefinedFilterCallback(\"exec\")}}", 1],
  ["form", "{{['id']|filter('system')}}", 1],
  ["form", "<#assign ex=\"freemarker.template.utility.Execute\"?new()>${ex(\"id\")}", 1],
  ["query", "#set($x='')#set($rt=$x.class.forName('java.lang.Runtime'))", 1],
  ["form", "${T(java.lang.Runtime).getRuntime().exec('id')}", 1],
  ["query", "*{T(java.lang.Runtime).getRuntime().exec('id')}", 1],
  ["form", "#{process.mainModule.require('child_process').execSync('id')}", 1],
  ["form", "{$smarty.version}", 1],
  ["form", "{{#with \"s\" as |string|}}{{/with}}", 1],
  ["json", "#{runtime.exec('id')}", 1],
  ["form", "{% if True %}49{% endif %}", 2],
  ["form", "<#list 1..3 as i>${i}</#list>", 2],
  ["query", "{{ user.getName() }}", 2],
];

for (const [place, payload, pl] of ATTACKS) {
  test(`blocks at PL${pl} (${place}): ${JSON.stringify(payload)}`, (t) => {
    const v = verdict(pl, place, payload);
    t.is(v.action, "block", JSON.stringify(v.matches.map((m) => m.id)));
    t.true(v.matches.every((m) => m.id >= 136000 && m.id <= 136999));
    if (pl > 1) t.is(verdict(pl - 1, place, payload).action, "pass", "belongs to the stricter level only");
  });
}

// Benign values that must pass at PL1; those marked true must also pass at PL2.
const BENIGN: readonly (readonly [Place, string, boolean])[] = [
  ["query", "{{username}}", true],
  ["query", "#{name}", true],
  ["query", "<%=title%>", true],
  ["form", "Hello {name}, your order {id} shipped", true],
  ["form", "{{ user.name | upper }}", true],
  ["form", "Total: 7*7=49", true],
  ["form", "#hashtag {fun}", true],
  ["form", "50% off {today}", true],
  ["form", "a <% b", true],
  ["form", "self-service portal", true],
  ["form", "config file settings", true],
  ["json", "I'd like {{ two }} tickets", true],
  ["form", "Python's __init__ method", false],
  ["form", "{\"a\": [1, 2], \"b\": {\"c\": 3}}", true],
  ["form", "price ${price}", true],
  ["form", "Use the request form (runtime: 5 min)", true],
  ["query", "a+b=c", true],
  ["form", "100% {{ satisfied }}", true],
  ["form", "x = {{ 7 }}", true],
  ["form", "O'Brien", true],
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

test("every rule is in the file's id range and carries the SSTI and owasp-a03 tags", (t) => {
  t.true(rules.length >= 3);
  for (const r of rules) {
    t.true(r.id >= 136000 && r.id <= 136999, String(r.id));
    t.true(r.tags.includes("attack-ssti") && r.tags.includes("owasp-a03"), String(r.id));
  }
});
