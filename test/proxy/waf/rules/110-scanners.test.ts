import test from "ava";
import { checkRules, client, placeCases, ruleFile, showIdMatch, testBlocks, testPasses, type WafInput } from "./support.js";

const file = ruleFile("110-scanners.yaml");
const { get, form, json } = client("shop.example.com", "/");

type Place = "ua" | "header" | "query" | "form" | "json" | "cookie" | "referer";

/** A request carrying `value` in one place; for "header" the value is "name: value". */
function request(place: Place, value: string): WafInput {
  switch (place) {
    case "ua":
      return get("/", [["user-agent", value]]);
    case "header": {
      const i = value.indexOf(":");
      return get("/", [[value.slice(0, i).toLowerCase(), value.slice(i + 1).trim()]]);
    }
    case "query":
      return get(`/?url=${encodeURIComponent(value)}`);
    case "form":
      return form(`callback=${encodeURIComponent(value)}`);
    case "json":
      return json({ webhook: { url: value } });
    case "cookie":
      return get("/", [["cookie", `a=1; tracking=${value}`]]);
    case "referer":
      return get("/", [["referer", value]]);
  }
}

// [place, value, lowest paranoia level that blocks it]
const ATTACKS: readonly (readonly [Place, string, number])[] = [
  ["ua", "sqlmap/1.7.2#stable (https://sqlmap.org)", 1],
  ["ua", "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000003)", 1],
  ["ua", "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)", 1],
  ["ua", "masscan/1.3 (https://github.com/robertdavidgraham/masscan)", 1],
  ["ua", "Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Acunetix-Product", 1],
  ["ua", "Mozilla/5.0 (compatible; Nessus SOAP)", 1],
  ["ua", "OpenVAS-VT 22.4", 1],
  ["ua", "WPScan v3.8.25 (https://wpscan.com/wordpress-security-scanner)", 1],
  ["ua", "DirBuster-1.0-RC1 (http://www.owasp.org/index.php/Category:OWASP_DirBuster_Project)", 1],
  ["ua", "gobuster/3.6", 1],
  ["ua", "Fuzz Faster U Fool v2.1.0-dev", 1],
  ["ua", "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)", 1],
  ["ua", "Mozilla/5.0 zgrab/0.x", 1],
  ["ua", "w3af.org", 1],
  ["ua", "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 5.1) Havij", 1],
  ["ua", "Wfuzz/3.1.0", 1],
  ["ua", "feroxbuster/2.10.1", 1],
  ["ua", "commix/v3.8 (https://commixproject.com)", 1],
  ["header", "Acunetix-Aspect: enabled", 1],
  ["header", "X-WIPP: AscVersion=22.2.0", 1],
  ["query", "http://abc123.burpcollaborator.net/x", 1],
  ["form", "https://c1a2b3.oastify.com", 1],
  ["json", "http://cn4k2l.oast.fun/ssrf", 1],
  ["cookie", "${jndi:ldap://x.interact.sh/a}", 1],
  ["referer", "https://q7.bxss.me/r", 1],
  ["ua", "CustomVulnerabilityScanner/1.0", 2],
  ["ua", "exploit-kit/0.3", 2],
];

testBlocks(file, placeCases(ATTACKS, request));

// Legitimate clients: browsers, crawlers, monitoring and scripting clients must pass at PL1 and PL2.
const BENIGN: readonly (readonly [Place, string])[] = [
  ["ua", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"],
  ["ua", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"],
  ["ua", "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"],
  ["ua", "curl/8.5.0"],
  ["ua", "Wget/1.21.4"],
  ["ua", "python-requests/2.31.0"],
  ["ua", "Go-http-client/1.1"],
  ["ua", "okhttp/4.12.0"],
  ["ua", "node"],
  ["ua", "axios/1.6.8"],
  ["ua", "Apache-HttpClient/4.5.14 (Java/17.0.9)"],
  ["ua", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"],
  ["ua", "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"],
  ["ua", "kube-probe/1.29"],
  ["ua", "Prometheus/2.51.0"],
  ["ua", "Datadog Agent/7.52.0"],
  ["ua", "urlgrabber/3.10 yum/3.4.3"],
  ["ua", "mozilla/5.0 ecairn-grabber/1.0 (+http://ecairn.com/grabber)"],
  ["ua", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"],
  ["ua", "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/124.0 Mobile Safari/537.36 Vegas/1.0"],
  ["header", "X-Request-Id: 3f1c2a7e-1b2c-4d5e-8f90-a1b2c3d4e5f6"],
  ["query", "https://hooks.slack.com/services/T000/B000/XXXX"],
  ["form", "https://example.com/oauth/callback"],
  ["json", "https://api.github.com/repos/acme/app/hooks"],
  ["referer", "https://www.google.com/search?q=security+scanner+comparison"],
];

testPasses(
  file,
  placeCases(BENIGN.map(([place, value]) => [place, value, true] as const), request),
  (v, pl) => `PL${pl}: ${showIdMatch(v)}`,
);

test("every rule is in the file's id range and tagged", (t) => {
  t.true(file.rules.length >= 3);
  checkRules(t, file, ["attack-reputation-scanner", "owasp-a05"]);
});
