import test from "ava";
import { appRequests, checkRules, placeCases, ruleFile, testBlocks, testPasses, type AppPlace } from "./support.js";

const file = ruleFile("136-ssti.yaml", "/app");
const request = appRequests({ encoding: "utf8", xml: "element" });

// [place, payload, lowest paranoia level that blocks it]
const ATTACKS: readonly (readonly [AppPlace, string, number])[] = [
  ["query", "{{7*7}}", 1],
  ["form", "{{ 7 * '7' }}", 1],
  ["json", "{{ ''.__class__.__mro__[1].__subclasses__() }}", 1],
  ["query", "${7*7}", 1],
  ["cookie", "#{7*7}", 1],
  ["form", "<%= 7*7 %>", 1],
  ["form", "<%= system(\"id\") %>", 1],
  ["form", "<%= `id` %>", 1],
  ["query", "{{config.items()}}", 1],
  ["form", "{{request.application.__globals__.__builtins__.__import__('os').popen('id').read()}}", 1],
  ["form", "{{lipsum.__globals__.os.popen('id').read()}}", 1],
  ["xml", "{{_self.env.registerUndefinedFilterCallback(\"exec\")}}", 1],
  ["form", "{{['id']|filter('system')}}", 1],
  ["form", "<#assign ex=\"freemarker.template.utility.Execute\"?new()>${ex(\"id\")}", 1],
  ["query", "#set($x='')#set($rt=$x.class.forName('java.lang.Runtime'))", 1],
  ["form", "${T(java.lang.Runtime).getRuntime().exec('id')}", 1],
  ["query", "*{T(java.lang.Runtime).getRuntime().exec('id')}", 1],
  ["form", "#{process.mainModule.require('child_process').execSync('id')}", 1],
  ["form", "{$smarty.version}", 1],
  ["form", "{{#with \"s\" as |string|}}{{/with}}", 1],
  ["json", "#{runtime.exec('id')}", 1],
  ["form", "{% if True %}49{% endif %}", 2],
  ["form", "<#list 1..3 as i>${i}</#list>", 2],
  ["query", "{{ user.getName() }}", 2],
];

testBlocks(file, placeCases(ATTACKS, request));

// Benign values that must pass at PL1; those marked true must also pass at PL2.
const BENIGN: readonly (readonly [AppPlace, string, boolean])[] = [
  ["query", "{{username}}", true],
  ["query", "#{name}", true],
  ["query", "<%=title%>", true],
  ["form", "Hello {name}, your order {id} shipped", true],
  ["form", "{{ user.name | upper }}", true],
  ["form", "Total: 7*7=49", true],
  ["form", "#hashtag {fun}", true],
  ["form", "50% off {today}", true],
  ["form", "a <% b", true],
  ["form", "self-service portal", true],
  ["form", "config file settings", true],
  ["json", "I'd like {{ two }} tickets", true],
  ["form", "Python's __init__ method", false],
  ["form", "{\"a\": [1, 2], \"b\": {\"c\": 3}}", true],
  ["form", "price ${price}", true],
  ["form", "Use the request form (runtime: 5 min)", true],
  ["query", "a+b=c", true],
  ["form", "100% {{ satisfied }}", true],
  ["form", "x = {{ 7 }}", true],
  ["form", "O'Brien", true],
];

testPasses(file, placeCases(BENIGN, request));

test("every rule is in the file's id range and carries the SSTI and owasp-a03 tags", (t) => {
  t.true(file.rules.length >= 3);
  checkRules(t, file, ["attack-ssti", "owasp-a03"]);
});
