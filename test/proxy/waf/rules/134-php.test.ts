import test from "ava";
import { appRequests, checkRules, placeCases, ruleFile, testBlocks, testPasses, type AppPlace } from "./support.js";

const file = ruleFile("134-php.yaml", "/app");
const request = appRequests({ encoding: "utf8", xml: "element" });

// [place, payload, lowest paranoia level that blocks it]
const ATTACKS: readonly (readonly [AppPlace, string, number])[] = [
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

testBlocks(file, placeCases(ATTACKS, request));

// Benign values that must pass at PL1; those marked true must also pass at PL2.
const BENIGN: readonly (readonly [AppPlace, string, boolean])[] = [
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

testPasses(file, placeCases(BENIGN, request));

test("every rule is in the file's id range and carries the PHP and owasp-a03 tags", (t) => {
  t.true(file.rules.length > 10);
  checkRules(t, file, ["attack-injection-php", "owasp-a03"]);
});
