import test from "ava";
import { appRequests, checkRules, placeCases, ruleFile, testBlocks, testPasses, type AppPlace } from "./support.js";

const file = ruleFile("138-ssrf.yaml", "/app");
const request = appRequests({ encoding: "latin1", xml: "attribute" });

// [place, payload, lowest paranoia level that blocks it]
const ATTACKS: readonly (readonly [AppPlace, string, number])[] = [
  ["query", "http://169.254.169.254/latest/meta-data/", 1],
  ["json", "http://metadata.google.internal/computeMetadata/v1/", 1],
  ["query", "http://[fd00:ec2::254]/latest/", 1],
  ["query", "http://100.100.100.200/latest/meta-data", 1],
  ["query", "http://2852039166/", 1],
  ["query", "http://0xa9fea9fe/", 1],
  ["query", "http://0251.0376.0251.0376/", 1],
  ["query", "http://[::ffff:a9fe:a9fe]/", 1],
  ["form", "http://localhost:6379/", 1],
  ["query", "http:127.0.0.1", 1],
  ["cookie", "http://[::1]:8080/admin", 1],
  ["query", "https://127.0.0.1.nip.io/", 1],
  ["jsonraw", "{\"webhook\":\"http://kubernetes.default.svc/api\"}", 1],
  ["rawquery", "http://0.0.0.0:2375/containers/json=x", 1],
  ["query", "localhost/admin", 1],
  ["query", "host.docker.internal/", 1],
  ["xml", "localhost:8080/", 1],
  ["query", "gopher://127.0.0.1:6379/_FLUSHALL", 1],
  ["query", "dict://internal.example:11211/stat", 1],
  ["query", "file:///etc/passwd", 1],
  ["query", "jar:http://evil.example/a.jar!/x.class", 1],
  ["query", "http://10.1.2.3/admin", 2],
  ["query", "http://192.168.0.1:8080/", 2],
  ["query", "http://3232235777/", 2],
  ["query", "http://0x7f.0x0.0x0.0x1/", 2],
  ["query", "http://[fe80::1%25eth0]/", 2],
  ["query", "xri://[0:0:0:0:0:ffff:10.0.0.1]", 2],
  ["query", "http://google.com:80 &@127.88.23.245:22/", 2],
  ["query", "http://\\\\l\\\\o\\\\c\\\\a\\\\l\\\\h\\\\o\\\\s\\\\t/", 2],
  ["query", "169.254.169.254/latest/user-data", 2],
];

testBlocks(file, placeCases(ATTACKS, request));

// Benign values that must pass at PL1; those marked true must also pass at PL2.
const BENIGN: readonly (readonly [AppPlace, string, boolean])[] = [
  ["query", "https://example.com/callback", true],
  ["query", "http://www.example.org/page?x=1", true],
  ["query", "localhost", true],
  ["query", "mylocalhost/", true],
  ["query", "db01.internal", true],
  ["form", "See 192.168.1.1 for the router", true],
  ["query", "version 10.0.0.1", true],
  ["query", "https://metadata.example.com/x", true],
  ["query", "https://localhost.example.com/", true],
  ["query", "filename: data.csv", true],
  ["query", "time:0", true],
  ["json", "ftp://ftp.example.org/pub/file", true],
  ["query", "https://[2001:db8::1]/", false],
  ["query", "gopherjs is a compiler", true],
  ["query", "https://example.com:8443/x", true],
  ["form", "the ldap server is down", true],
  ["query", "mailto:user@localhost", true],
  ["query", "http://example.com/a@b", true],
  ["query", "https://user:pass@example.com/", true],
  ["query", "127.0.0.1", true],
  ["json", "file: report.pdf", true],
  ["form", "metadata: updated", true],
];

testPasses(file, placeCases(BENIGN, request));

test("every rule is in the file's id range and carries the attack-ssrf and owasp-a10 tags", (t) => {
  t.true(file.rules.length >= 8);
  checkRules(t, file, ["attack-ssrf", "owasp-a10"]);
});
