import test from "ava";
import { belongsToLevel, checkRules, fieldPart, filePart, multipartBody, multipartType, namedCases, ruleFile, showIdTargetMatch, testBlocks, testPasses, type Headers, type WafInput } from "./support.js";

const file = ruleFile("100-protocol.yaml");

const BROWSER: Headers = [
  ["host", "shop.example.com"],
  ["user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"],
  ["accept", "text/html,application/xhtml+xml,*/*;q=0.8"],
  ["accept-language", "en-GB,en;q=0.9"],
];

/** A request from a browser-like client; extra headers come after the usual ones, Content-Length is filled in, the body is UTF-8 unless binary. */
function req(method: string, uri: string, extra: Headers = [], body?: string, base: Headers = BROWSER, binary = false): WafInput {
  const headers: [string, string][] = [...base.map(([k, v]) => [k, v] as [string, string]), ...extra.map(([k, v]) => [k, v] as [string, string])];
  if (body === undefined) return { method, uri, protocol: "HTTP/1.1", headers };
  const bytes = Buffer.from(body, binary ? "latin1" : "utf8");
  if (!headers.some(([k]) => k === "content-length" || k === "transfer-encoding")) headers.push(["content-length", String(bytes.length)]);
  return { method, uri, protocol: "HTTP/1.1", headers, body: bytes };
}

const form = (body: string, uri = "/account", ct = "application/x-www-form-urlencoded"): WafInput =>
  req("POST", uri, [["content-type", ct]], body);
const json = (value: unknown, ct = "application/json"): WafInput => req("POST", "/api/items", [["content-type", ct]], JSON.stringify(value));
const B = "----WebKitFormBoundary7MA4YWxkTrZu0gW";
const multipart = (parts: readonly string[]): WafInput => req("POST", "/upload", [["content-type", multipartType(B)]], multipartBody(B, parts));

// [what, request, lowest paranoia level that blocks it]
const ATTACKS: readonly (readonly [string, WafInput, number])[] = [
  ["TRACE method", req("TRACE", "/"), 1],
  ["made-up method", req("JEFF", "/"), 1],
  ["HTTP/1.2 request line", { ...req("GET", "/"), protocol: "HTTP/1.2" }, 1],
  ["fragment in the target", req("GET", "/index.html#frag"), 1],
  ["no Host header", req("GET", "/", [], undefined, BROWSER.slice(1)), 1],
  ["two Host headers", req("GET", "/", [["host", "evil.example"]]), 1],
  ["Host with a path (host header injection)", req("GET", "/", [], undefined, [["host", "evil.example/x?"], ...BROWSER.slice(1)]), 1],
  ["Content-Length and Transfer-Encoding", req("POST", "/", [["content-type", "text/plain"], ["content-length", "4"], ["transfer-encoding", "chunked"]], "abcd"), 1],
  ["Transfer-Encoding: chunked, identity", req("POST", "/", [["transfer-encoding", "chunked, identity"]]), 1],
  ["Content-Length with a sign", req("POST", "/", [["content-length", "+4"]]), 1],
  ["GET with a body", req("GET", "/search", [["content-type", "application/x-www-form-urlencoded"]], "q=1"), 1],
  ["POST without framing", req("POST", "/", [["content-type", "application/x-www-form-urlencoded"]]), 1],
  ["unknown content type with a body", req("POST", "/", [["content-type", "application/x-java-serialized-object"]], "\xac\xed\x00\x05", BROWSER, true), 1],
  ["charset=utf-7", form("a=b", "/", "application/x-www-form-urlencoded; charset=utf-7"), 1],
  ["charset=ibm037 (EBCDIC body)", form("%89%95=1", "/", "application/x-www-form-urlencoded;charset=IBM037"), 1],
  ["two charsets", form("a=b", "/", "application/x-www-form-urlencoded; charset=utf-8; charset=utf-16"), 1],
  ["media type hidden in a parameter", form("a=b", "/", 'application/x-www-form-urlencoded;boundary="application/json"'), 1],
  ["OGNL in Content-Type", req("GET", "/", [["content-type", "%{(#_='multipart/form-data').(#cmd='id')}"]]), 1],
  ["Accept asks for a foreign charset", req("GET", "/", [["accept", "text/html;charset=utf-7"]]), 1],
  ["malformed JSON body", req("POST", "/api", [["content-type", "application/json"]], '{"a": 1,,}'), 1],
  ["multipart with LF-only lines", req("POST", "/upload", [["content-type", "multipart/form-data; boundary=xx"]], '--xx\nContent-Disposition: form-data; name="a"\n\n1\n--xx--\n'), 1],
  ["multipart filename with a semicolon", multipart([filePart("f", "shell.php;.jpg")]), 1],
  ["multipart field name with an equals sign", multipart([filePart("fi=le", "a.txt")]), 1],
  ["multipart part in UTF-7", multipart([fieldPart("q", "+ADw-script+AD4-", "Content-Type: text/plain; charset=UTF-7\r\n")]), 1],
  ["_charset_ field naming UTF-7", multipart([fieldPart("_charset_", "utf-7"), fieldPart("q", "x")]), 1],
  ["base64 Content-Transfer-Encoding in a part", multipart([fieldPart("q", "PHNjcmlwdD4=", "Content-Transfer-Encoding: base64\r\n")]), 1],
  ["body without Content-Type", req("PUT", "/api/items/1", [], '{"name":"x"}'), 1],
  ["NUL in a query value", req("GET", "/?file=report.pdf%00.jpg"), 1],
  ["double-encoded NUL in a form", form("file=a%2500"), 1],
  ["overlong UTF-8 slash", req("GET", "/static/..%c0%af..%c0%afetc/passwd"), 1],
  ["UTF-8 beyond U+10FFFF", req("GET", "/?q=%F5%80%BF%BF"), 1],
  ["IIS full-width %u encoding", req("GET", "/?q=%uff1cscript%uff1e"), 1],
  ["\\u escape in a query value", req("GET", "/?q=\\u003cscript\\u003e"), 1],
  ["\\u escape in a cookie", req("GET", "/", [["cookie", "prefs=\\u0027 or 1=1"]]), 1],
  ["full-width slash in the path", req("GET", "/files/..%EF%BC%8F..%EF%BC%8Fetc"), 1],
  ["backslash in the path", req("GET", "/files/..\\..\\windows\\win.ini"), 1],
  ["argument name of 150 bytes", req("GET", `/?${"x".repeat(150)}=1`), 1],
  ["300 query arguments", req("GET", `/?${Array.from({ length: 300 }, (_, i) => `p${i}=1`).join("&")}`), 1],
  ["backup file", req("GET", "/config/database.yml.bak"), 1],
  ["web.config with a trailing dot", req("GET", "/web.config."), 1],
  ["private key", req("GET", "/certs/server.KEY"), 1],
  ["SQL dump behind a path parameter", req("GET", "/dump.sql;jsessionid=1"), 1],
  ["editor backup", req("GET", "/app/login.php~"), 1],
  ["mod_proxy unix socket", req("GET", "/?unix:AAAA|http://evil.example/"), 1],
  ["Proxy header (httpoxy)", req("GET", "/", [["proxy", "http://evil.example:8080"]]), 1],
  ["method override header", req("POST", "/users/1", [["x-http-method-override", "DELETE"], ["content-length", "0"]]), 1],
  ["Next.js middleware bypass header", req("GET", "/admin", [["x-middleware-subrequest", "middleware:middleware:middleware"]]), 1],
  ["Request-Range", req("GET", "/video.mp4", [["request-range", "bytes=0-1"]]), 1],
  ["Range ending before it starts", req("GET", "/", [["range", "bytes=0-,5-0,5-1,5-2"]]), 1],
  ["Range with 100 parts", req("GET", "/a.pdf", [["range", `bytes=${Array.from({ length: 100 }, (_, i) => `${i * 10}-${i * 10 + 5}`).join(",")}`]]), 1],
  ["Accept-Encoding of 200 bytes", req("GET", "/", [["accept-encoding", "gzip," + "A".repeat(200)]]), 1],
  ["$Version cookie (cookie sandwich)", req("GET", "/", [["cookie", '$Version=1; session="abc; admin=1"']]), 1],
  ["smuggled request line in a form", form("note=x%0d%0aGET+/admin+HTTP/1.1%0d%0aHost:+internal"), 1],
  ["request line in a text/plain body", req("POST", "/", [["content-type", "text/plain"]], "x\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n"), 1],
  ["response splitting in a query", req("GET", "/redirect?to=%2F%0d%0aSet-Cookie:%20session%3Dattacker"), 1],
  ["response splitting in a JSON value", json({ next: "/home\r\nLocation: https://evil.example/" }), 1],
  ["HTML document in a cookie", req("GET", "/", [["cookie", "lang=en%0d%0a%0d%0a<html><body>x"]]), 1],
  ["CR/LF in a header value", req("GET", "/", [["x-forwarded-host", "a.example%0d%0aX-Injected: 1"]]), 1],
  ["CR/LF in the path", req("GET", "/index.php/PHP_VALUE%0Aauto_prepend_file=x"), 1],
  ["header name after CR/LF in a query", req("GET", "/?q=a%0d%0aX-Forwarded-For:%20127.0.0.1"), 1],
  ["LDAP filter injection", form("user=*)(uid=*))(|(uid=*&pass=x"), 1],
  ["LDAP injection in a cookie", req("GET", "/", [["cookie", "user=admin)(|(password=*)"]]), 1],
  ["Connection: keep-alive, close", req("GET", "/", [["connection", "keep-alive, close"]]), 1],
  ["empty Accept", req("GET", "/", [], undefined, [["host", "a"], ["user-agent", "curl/8.5.0"], ["accept", ""]]), 1],
  ["empty User-Agent", req("GET", "/", [], undefined, [["host", "a"], ["user-agent", ""], ["accept", "*/*"]]), 1],
  ["Host is an IP address", req("GET", "/", [], undefined, [["host", "10.1.2.3:8080"], ...BROWSER.slice(1)]), 2],
  ["text/plain body (not inspected)", req("POST", "/", [["content-type", "text/plain"]], "hello"), 2],
  ["double URL encoding", req("GET", "/?path=%252e%252e%252f"), 2],
  ["invalid UTF-8 in a value", req("GET", "/?q=%ff%fe"), 2],
  ["control character in a value", req("GET", "/?q=a%01b"), 2],
  ["IIS %u encoding", req("GET", "/?q=%u0027"), 2],
  ["invalid URL encoding in a form body", form("q=100%+sure"), 2],
  ["6 byte ranges", req("GET", "/movie.mp4", [["range", "bytes=0-1,2-3,4-5,6-7,8-9,10-11"]]), 2],
  ["_method override", req("GET", "/transfer?amount=10&_method=POST"), 2],
  ["Accept-Charset header", req("GET", "/", [["accept-charset", "utf-8"]]), 2],
  ["multipart file name with a quote", multipart([filePart("f", 'a\\"b.txt')]), 1],
  ["multipart file name with an HTML entity", multipart([filePart("f", "r&eacute;sum&eacute;.pdf")]), 2],
  ["CR/LF in a query value", req("GET", "/?msg=a%0db"), 2],
  ["argument value over 400 bytes", req("GET", `/?q=${"a".repeat(500)}`), 3],
  ["percent sign after decoding", req("GET", "/?q=100%25"), 3],
  ["Cache-Control directive of a response", req("GET", "/", [["cache-control", "private"]]), 3],
  ["strict argument characters", req("GET", "/?q=a%60b"), 4],
];

testBlocks(file, namedCases(ATTACKS), { show: showIdTargetMatch, lower: belongsToLevel(showIdTargetMatch, true) });

// Ordinary traffic that must pass at PL1; those marked true must also pass at PL2.
const BENIGN: readonly (readonly [string, WafInput, boolean])[] = [
  ["browser page view", req("GET", "/products/blue-shoes?size=42&color=navy"), true],
  ["HEAD request", req("HEAD", "/health"), true],
  ["CORS preflight with an empty Accept", req("OPTIONS", "/api", [["origin", "https://app.example.com"], ["access-control-request-method", "PUT"]], undefined, [["host", "a"], ["user-agent", "x"], ["accept", ""]]), true],
  ["JSON API call", json({ name: "Jane O'Brien", tags: ["a", "b"], price: 19.99, note: "Leave (at) the door!" }), true],
  ["JSON with escaped unicode", json({ city: "Zürich \u00e9 \u65e5\u672c", code: "\\u0041 shown literally" }), true],
  ["JSON merge patch", req("PATCH", "/api/items/7", [["content-type", "application/merge-patch+json"]], '{"qty":3}'), true],
  ["DELETE with Content-Length 0", req("DELETE", "/api/items/7", [["content-length", "0"]]), true],
  ["binary upload", req("PUT", "/blobs/photo.jpg", [["content-type", "application/octet-stream"]], "\xff\xd8\xff\xe0JFIF", BROWSER, true), false],
  ["form with a charset", form("name=Fran%C3%A7ois&city=Malm%C3%B6", "/account", "application/x-www-form-urlencoded; charset=UTF-8"), true],
  ["latin-1 form", form("name=Fran%E7ois", "/account", "application/x-www-form-urlencoded; charset=ISO-8859-1"), false],
  ["textarea with line breaks", form("comment=First+line%0D%0ASecond+line%3A+details&rating=5"), true],
  ["multipart upload", multipart([fieldPart("title", "Holiday"), filePart("photo", "Beach day 2024 (1).jpg")]), true],
  ["multipart part with charset and 8bit", multipart([fieldPart("q", "café", "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n")]), false],
  ["chunked POST", req("POST", "/api/events", [["content-type", "application/json"], ["transfer-encoding", "chunked"]], '{"e":1}'), true],
  ["UTF-8 query", req("GET", "/search?q=%E6%97%A5%E6%9C%AC%E8%AA%9E+caf%C3%A9"), true],
  ["encoded URL as a parameter", req("GET", "/login?next=https%3A%2F%2Fapp.example.com%2Fhome%3Ftab%3D2"), true],
  ["a single byte range", req("GET", "/video.mp4", [["range", "bytes=1024-2047"], ["if-range", '"abc"']]), true],
  ["PDF viewer ranges", req("GET", "/doc.pdf", [["range", "bytes=0-99,200-299,400-499,600-699,800-899,1000-1099"]]), true],
  ["Host with a port", req("GET", "/", [], undefined, [["host", "api.internal.svc.cluster.local:8443"], ...BROWSER.slice(1)]), true],
  ["service-to-service call without Accept or User-Agent", req("GET", "/v1/status", [], undefined, [["host", "orders"]]), true],
  ["bearer token and tracing headers", req("GET", "/api/me", [["authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig"], ["traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"]]), true],
  ["font file", req("GET", "/assets/fonts/Inter.ttf"), true],
  ["home directory path", req("GET", "/~alice/notes.txt"), true],
  ["phone number and parentheses", form("phone=(555)+123-4567&expr=(a%2Bb)*c&note=smile+%3A)"), true],
  ["an e-mail and a price", req("GET", "/?email=jane%40example.com&price=%2419.99&pct=50%25"), false],
  ["Accept with charset utf-8", req("GET", "/", [["accept", "text/html;q=0.9;charset=utf-8, */*;q=0.8"]]), true],
  ["quoted charset", form("a=b", "/", 'application/x-www-form-urlencoded; charset="utf-8"'), true],
  ["SOAP with action", req("POST", "/ws", [["content-type", 'application/soap+xml; charset=utf-8; action="urn:example#Get"']], '<?xml version="1.0"?><Envelope><Body><Get/></Body></Envelope>'), true],
  ["keep-alive connection", req("GET", "/", [["connection", "keep-alive"]]), true],
];

testPasses(file, namedCases(BENIGN), showIdTargetMatch);

test("every rule is in the file's id range and tagged attack-protocol", (t) => {
  t.true(file.rules.length > 50);
  checkRules(t, file, ["attack-protocol", /^owasp-/]);
});

test("header-only rules run in the headers phase", (t) => {
  const headerRules = file.rules.filter((r) => r.phase === "headers");
  t.true(headerRules.length >= 30, `only ${headerRules.length}`);
});
