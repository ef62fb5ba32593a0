import test from "ava";
import { join } from "node:path";
import { DEFAULT_SETTINGS, WafEngine, type WafVerdict } from "../../../../proxy/waf/engine.js";
import { loadRules } from "../../../../proxy/waf/rule-file.js";
import { bundledRulesDir } from "../../../../proxy/waf/settings.js";
import type { WafInput } from "../../../../proxy/waf/types.js";

const rules = loadRules(join(bundledRulesDir(), "134-php.yaml"));
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
  ["form", "<?php system($_GET['c']); ?>", 1],
  ["cookie", "<?=phpinfo()?>", 1],
  ["query", "<?\nphp echo 1;", 1],
  ["query", "php://filter/convert.base64-encode/resource=index.php", 1],
  ["json", "expect://id", 1],
  ["form", "allow_url_include=On", 1],
  ["query", "x auto_prepend_file=/tmp/x", 1],
  ["query", "$_SERVER['HTTP_HOST']", 1],
  ["form", "${'sys'.'tem'}", 1],
  ["query", "base64_decode('aWQ=')", 1],
  ["form", "system ('id')", 1],
  ["query", "eval/**/($_POST[x])", 1],
  ["form", "exec\t(ls)", 1],
  ["json", "\"sys\".\"tem\"('id')", 1],
  ["query", "(system)('id')", 1],
  ["form", "[system][0](id)", 1],
  ["form", "$f='system';$f('id');", 1],
  ["query", "$GLOBALS['f']('id')", 1],
  ["form", "$_aB_4c[5]['d'] /*x*/ (1)", 1],
  ["form", "O:8:\"stdClass\":1:{s:1:\"a\";s:1:\"b\";}", 1],
  ["xml", "call_user_func('system','id')", 1],
  ["query", "preg_replace('/x/e','system(\"id\")','x')", 1],
  ["form", "file_put_contents('s.php',$_POST[c])", 1],
  ["upload", "shell.php5", 1],
  ["x-filename", "avatar.phtml...", 1],
  ["x-filename", "/var/lib/php/sessions/sess_d8ew88tqmabdcokhumchy8htqm", 1],
  ["form", "ldap_get_entries($c)", 2],
  ["form", "a:1:{i:0;s:2:\"id\";}", 2],
  ["query", "$_SE RVER['x']", 3],
  ["upload", "photo.php.jpg", 3],
];

for (const [place, payload, pl] of ATTACKS) {
  test(`blocks at PL${pl} (${place}): ${JSON.stringify(payload)}`, (t) => {
    const v = verdict(pl, place, payload);
    t.is(v.action, "block", JSON.stringify(v.matches.map((m) => m.id)));
    t.true(v.matches.every((m) => m.id >= 134000 && m.id <= 134999));
    if (pl > 1) t.is(verdict(pl - 1, place, payload).action, "pass", "belongs to the stricter level only");
  });
}

// Benign values that must pass at PL1; those marked true must also pass at PL2.
const BENIGN: readonly (readonly [Place, string, boolean])[] = [
  ["query", "richard.php@example.com", true],
  ["form", "Please attach the file (PDF only)", true],
  ["form", "Copy (2) of report.docx", true],
  ["form", "file(s) attached", true],
  ["form", "It costs $5 (approx)", true],
  ["form", "We paid $X (about ten)", true],
  ["form", "$USD (US dollars)", true],
  ["form", "<?xml version=\"1.0\" encoding=\"UTF-8\"?><a/>", true],
  ["form", "&lt;? should not trigger", true],
  ["query", "Is this a test? What do you think?", true],
  ["form", "The system (as designed) works", true],
  ["form", "phpinfo can leak configuration details", true],
  ["form", "(userAccountControl:1.2.840.113556.1.4.803:=2)(&(objectCategory=group))", true],
  ["form", "See [the docs](https://example.com/docs) and [1](https://example.com/ref)", true],
  ["form", "f(x) = x^2 + 1", true],
  ["form", "Q1 (2023) (revised)", true],
  ["form", "data:image/png;base64,iVBORw0KGgo=", true],
  ["form", "precision engineering", true],
  ["form", "O'Brien", true],
  ["cookie", "session=abc123def456", true],
  ["upload", "my_sess_data.txt", true],
  ["x-filename", "report.pdf", true],
  ["x-filename", "safe.phpinfo", true],
  ["json", "A loaded ghost gun (unserialized) was recovered", true],
  ["form", "Please enter your e-mail (optional)", true],
  ["form", "lemon extract (fresh) and a word (noun)", true],
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

test("every rule is in the file's id range and carries the PHP and owasp-a03 tags", (t) => {
  t.true(rules.length > 10);
  for (const r of rules) {
    t.true(r.id >= 134000 && r.id <= 134999, String(r.id));
    t.true(r.tags.includes("attack-injection-php") && r.tags.includes("owasp-a03"), String(r.id));
  }
});
