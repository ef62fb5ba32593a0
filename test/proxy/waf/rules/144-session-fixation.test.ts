import test from "ava";
import { belongsToLevel, checkRules, client, namedCases, ruleFile, showIdTarget, testBlocks, testPasses, type Headers, type WafInput } from "./support.js";

const file = ruleFile("144-session-fixation.yaml");
const FOREIGN: Headers = [["referer", "https://evil.example/phish.html"]];
const SAME_SITE: Headers = [["referer", "https://shop.example.com/cart"], ["sec-fetch-site", "same-origin"]];
/** A same-host Referer without Sec-Fetch-Site (older browsers, or stripped by a proxy). */
const SAME_HOST: Headers = [["referer", "http://shop.example.com/account"]];
/** A host that starts like ours: a look-alike, not a subdomain. */
const LOOKALIKE: Headers = [["referer", "https://shop.example.com.evil.example/x"]];

const shop = client("shop.example.com", "/login");
const { form, json } = shop;
const get = (query: string, extra: Headers = []): WafInput => shop.get(`/login?${query}`, extra);
const cookie = (value: string): WafInput => shop.get("/", [["cookie", value]]);

// [what, request, lowest paranoia level that blocks it]
const ATTACKS: readonly (readonly [string, WafInput, number])[] = [
  ["document.cookie with a domain in a query", get(`q=${encodeURIComponent('<script>document.cookie="sid=1; domain=.example.com"</script>')}`), 1],
  ["cookie expiry fragment", get("x=.cookie;expires=Thu,+01+Jan+2099"), 1],
  ["document.cookie assignment in a form", form(`bio=${encodeURIComponent("<img src=x onerror=document.cookie='PHPSESSID=attacker'>")}`), 1],
  ["meta http-equiv set-cookie", get(`lang=${encodeURIComponent('<meta http-equiv="Set-Cookie" content="JSESSIONID=1234">')}`), 1],
  ["HTML-entity encoded meta", form("c=%26lt%3Bmeta+http-equiv%3D%26quot%3Bset-cookie%26quot%3B%26gt%3B"), 1],
  ["document.cookie in a cookie value", cookie("note=document.cookie%3D%22a%3Db%3B%20path%3D%2F%22"), 1],
  ["JSESSIONID in a query, no referer", get("jsessionid=74B0CB414BD77D17B5680A6386EF1666"), 1],
  ["PHPSESSID from another site", get("PHPSESSID=deadbeef", FOREIGN), 1],
  ["ASP session id with suffix", get("ASPSESSIONIDQQGGGNCG=ABCDEF", FOREIGN), 1],
  ["ASP.NET_SessionId", get("ASP.NET_SessionId=abc123"), 1],
  ["laravel_session in a form", form("laravel_session=eyJpdiI6IktmYw&email=a%40b.c", FOREIGN), 1],
  ["connect.sid (Express)", get("connect.sid=s%3Aj8jK9_xPq2"), 1],
  ["Rails app session cookie name", get("_myshop_session=BAh7B0kiD3", FOREIGN), 1],
  ["next-auth session token with __Secure- prefix", get("__Secure-next-auth.session-token=tok", FOREIGN), 1],
  ["ColdFusion CFID/CFTOKEN", get("CFID=123&CFTOKEN=456"), 1],
  ["koa:sess", get("koa:sess=eyJ1Ijo", FOREIGN), 1],
  ["phpsessid in a JSON body", json({ phpsessid: "attacker" }), 1],
  ["sessionid on a cross-site navigation", get("sessionid=abc123", [...FOREIGN, ["sec-fetch-site", "cross-site"]]), 1],
  ["session_id posted from another site", form("session_id=abc&user=bob", FOREIGN), 1],
  ["session-id with a referer", get("session-id=xyz789", FOREIGN), 1],
  ["JSESSIONID from a look-alike host", get("jsessionid=abc", LOOKALIKE), 1],
  ["sessionid from a look-alike host", get("sessionid=abc123", LOOKALIKE), 1],
  ["sessionid from a same-site page (PL2)", get("sessionid=abc123", SAME_SITE), 2],
  ["sid parameter (PL2)", get("sid=abc123"), 2],
  ["JSESSIONID from a same-site page (PL2)", get("jsessionid=abc", SAME_SITE), 2],
  ["Set-Cookie header text in a parameter (PL2)", get(`v=${encodeURIComponent("x Set-Cookie: admin=1")}`), 2],
];

testBlocks(file, namedCases(ATTACKS), { show: showIdTarget, lower: belongsToLevel(showIdTarget, true) });

// Ordinary requests that must pass at PL1 (and PL2 when marked true).
const BENIGN: readonly (readonly [string, WafInput, boolean])[] = [
  ["login form", form("username=alice&password=s3cret&remember=on"), true],
  ["API call with a session_id field (no referer)", json({ session_id: "cs_test_a1b2", amount: 1200 }), false],
  ["checkout return with session_id (server call)", get("session_id=cs_test_a1b2c3"), false],
  ["sessionid from the same site", get("sessionid=abc123", SAME_SITE), false],
  ["JSESSIONID from the same origin", get("jsessionid=abc", SAME_SITE), false],
  ["JSESSIONID with a same-host Referer and no Sec-Fetch-Site", get("jsessionid=74B0CB414BD77D17B5680A6386EF1666", SAME_HOST), false],
  ["sessionid with a same-host Referer", get("sessionid=abc123", SAME_HOST), false],
  ["sessionid from a subdomain of the host", get("sessionid=abc123", [["referer", "https://m.shop.example.com/"]]), false],
  ["cookie consent text", form("msg=We+use+cookies%3B+see+our+cookie+policy"), true],
  ["a recipe with cookies", get("q=chocolate+chip+cookie+recipe%3B+bake+10+min"), true],
  ["documentation about document.cookie (read)", form(`text=${encodeURIComponent("Read it with document.cookie and split on ';'")}`), true],
  ["comparison in code", form(`code=${encodeURIComponent("if (document.cookie == '') { init(); }")}`), true],
  ["session duration setting", json({ session: { timeout: 3600, sliding: true } }), true],
  ["sessions list paging", get("sessions=10&page=2"), true],
  ["user id and order id", get("user_id=42&order_id=7001"), true],
  ["sidebar toggle", get("sidebar=collapsed&side=left"), true],
  ["ordinary cookies", cookie("JSESSIONID=74B0CB414BD77D17B5680A6386EF1666; theme=dark; lang=en"), true],
  ["PHP session cookie", cookie("PHPSESSID=k2b1fj0pd8; _ga=GA1.2.1.1"), true],
  ["cookie path text in a blog post", form(`body=${encodeURIComponent("Set the path to / and the domain to your site")}`), true],
  ["meta tag without set-cookie", get(`html=${encodeURIComponent('<meta http-equiv="refresh" content="0">')}`), true],
  ["HTTP header names in a question", form("q=What+does+the+Set-Cookie+header+do"), true],
  ["a JSON session object", json({ user: { name: "Ann" }, session_state: "active" }), true],
  ["analytics event", json({ event: "page_view", page: "/cart", ts: 1715000000 }), true],
  ["oauth state", get("state=af0ifjsldkj&code=SplxlOBeZQQYbYS6WxSbIA"), true],
];

testPasses(file, namedCases(BENIGN), showIdTarget);

test("every rule is in the file's id range and tagged", (t) => {
  t.true(file.rules.length >= 4);
  checkRules(t, file, ["attack-fixation", "owasp-a07"]);
});
