import test from "ava";
import { appRequests, checkRules, placeCases, ruleFile, testBlocks, testPasses, type AppPlace } from "./support.js";

const file = ruleFile("137-generic.yaml", "/app");
const request = appRequests({ encoding: "latin1", xml: "attribute" });

// [place, payload, lowest paranoia level that blocks it]
const ATTACKS: readonly (readonly [AppPlace, string, number])[] = [
  ["query", "require('child_process').exec('id')", 1],
  ["json", "_$$ND_FUNC$$_function(){require('child_process').exec('ls')}()", 1],
  ["cookie", Buffer.from("_$$ND_FUNC$$_function(){}()").toString("base64"), 1],
  ["form", Buffer.from("x=1;require('child_process').execSync('id')").toString("base64"), 1],
  ["query", "this.constructor.constructor('return process')()", 1],
  ["form", "process.mainModule.require('fs')", 1],
  ["json", "global.process.env", 1],
  ["cookie", "\\u0072equire('child_process')", 1],
  ["xml", "process.env.SECRET", 1],
  ["query", "console.log(document.cookie)", 1],
  ["query", "while(true){}", 1],
  ["form", "while(!0);", 1],
  ["query", "for(;;){}", 1],
  ["rawquery", "__proto__[isAdmin]=true", 1],
  ["jsonraw", "{\"user\":{\"__proto__\":{\"isAdmin\":true}}}", 1],
  ["rawquery", "constructor[prototype][isAdmin]=1", 1],
  ["rawquery", "a[constructor][prototype][onerror]=alert(1)", 1],
  ["form", "Process.spawn('id')", 1],
  ["query", "Kernel.exec('ls')", 1],
  ["json", "__import__('os').system('id')", 1],
  ["query", "''.__class__.__mro__[1].__subclasses__()", 1],
  ["form", "subprocess.check_output(['id'])", 1],
  ["query", "data:text/html,<script>alert(1)</script>", 1],
  ["jsonraw", "{\"data:text/plain\":\"foo\"}", 1],
  ["query", "@{[system 'id']}", 2],
  ["rawquery", "user__profile__email__icontains=admin", 2],
  ["plain", "{\"user__groups__name__startswith\":\"adm\"}", 2],
  ["path", "/run/require('child_process')", 2],
  ["rawquery", "password__isnull=true", 3],
];

testBlocks(file, placeCases(ATTACKS, request));

// Benign values that must pass at PL1; those marked true must also pass at PL2.
const BENIGN: readonly (readonly [AppPlace, string, boolean])[] = [
  ["form", "We need to process the order today", true],
  ["form", "Finish the process. Exit the building calmly.", true],
  ["form", "Please eval (draft) by Friday", true],
  ["form", "while (you wait) enjoy a coffee", true],
  ["form", "Try our new dashboard function", true],
  ["json", "constructor: Bob the builder", true],
  ["query", "prototype design phase", true],
  ["form", "I require (urgent) help", true],
  ["query", "console games", true],
  ["json", "data: text of the note", true],
  ["json", "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==", true],
  ["json", "data:application/pdf;base64,JVBERi0xLjQK", true],
  ["rawquery", "username__startswith=p", true],
  ["jsonraw", "{\"__typename\":\"User\",\"id\":1}", true],
  ["rawquery", "array[0][name]=x", true],
  ["query", "function of x", true],
  ["form", "Ruby on Rails IO", true],
  ["form", "os.path.join usage", true],
  ["form", "Python's __init__ method", true],
  ["form", "My list: @{name}", true],
  ["jsonraw", "{\"a\":[1,2,3],\"b\":{\"c\":\"d\"}}", true],
  ["cookie", "GA1.2.123456789.987654321", true],
  ["query", "SGVsbG8gd29ybGQ=", true],
  ["plain", "{\"name__exact\":\"a\",\"city__in\":\"b\"}", true],
];

testPasses(file, placeCases(BENIGN, request));

test("every rule is in the file's id range and carries the attack-injection-generic and owasp-a03 tags", (t) => {
  t.true(file.rules.length >= 8);
  checkRules(t, file, ["attack-injection-generic", "owasp-a03"]);
});
