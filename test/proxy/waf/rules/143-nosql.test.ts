import test from "ava";
import { belongsToLevel, checkRules, client, namedCases, ruleFile, showIdTargetMatch, testBlocks, testPasses, type WafInput } from "./support.js";

const file = ruleFile("143-nosql.yaml");
const { get, post, form, json } = client("api.example.com", "/login");
const xml = (text: string): WafInput => post("application/xml", `<?xml version="1.0"?><login><user>${text}</user></login>`);

// [what, request, lowest paranoia level that blocks it]
const ATTACKS: readonly (readonly [string, WafInput, number])[] = [
  ["$ne in a query parameter name", get("/users?name[$ne]=x"), 1],
  ["$ne percent-encoded in the name", get("/users?name%5B%24ne%5D=x"), 1],
  ["$regex in a form field name", form("user=admin&password[$regex]=^a"), 1],
  ["$gt as a JSON operator object", json({ user: "admin", password: { $gt: "" } }), 1],
  ["$where with JavaScript", json({ $where: "this.password.length > 0" }), 1],
  ["$or array at the top level", json({ $or: [{ user: "admin" }, { role: "admin" }] }), 1],
  ["$nin array in bracket syntax", get("/users?role[$nin][]=guest"), 1],
  ["$elemMatch deep in JSON", json({ filter: { tags: { $elemMatch: { $eq: "x" } } } }), 1],
  ["$expr aggregation operator", json({ q: { $expr: { $gt: ["$balance", 0] } } }), 1],
  ["$function server-side code", json({ q: { $function: { body: "function(){return true}", args: [], lang: "js" } } }), 1],
  ["$exists in a cookie name", get("/", [["cookie", "filter[$exists]=1"]]), 1],
  ["bracket operator in a query value", get("/search?mongoQ=[$lte]100"), 1],
  ["operator in an XML text node", xml("u_id[$ne]"), 1],
  ["JavaScript return true breaking out of a string", get("/users?name=%27%3Breturn%20true%3Bvar%20a%3D%27"), 1],
  ["this.field comparison after a quote", form("user=admin%27%20%7C%7C%20this.isAdmin%20%3D%3D%20true%20%7C%7C%20%27"), 1],
  ["regex match on this.password", json({ user: "admin' && this.password.match(/.*/)//" }), 1],
  ["db.collection call after a statement break", get("/search?q=1%27%3Bdb.users.drop()%3B%27"), 1],
  ["busy loop after a quote", form("q=%27%3Bwhile(true)%7B%7D%3B%27"), 1],
  ["sleep after a quote", form("q=%27%3Bsleep(5000)%3B%27"), 1],
  ["unknown $-operator in bracket syntax", get("/users?name[$foo]=x"), 2],
];

testBlocks(file, namedCases(ATTACKS), { show: showIdTargetMatch, lower: belongsToLevel(showIdTargetMatch, false) });

// Ordinary traffic that must pass at PL1; those marked true must also pass at PL2.
const BENIGN: readonly (readonly [string, WafInput, boolean])[] = [
  ["plain login form", form("user=admin&password=s3cr%24t%24"), true],
  ["prices with dollar signs", get("/cart?total=%241%2C234.00&shipping=%245"), true],
  ["JSON Schema keywords", json({ $schema: "https://json-schema.org/draft/2020-12/schema", $id: "order", $ref: "#/defs/item" }), true],
  ["key that only starts like an operator", json({ $existsor: "foo", user: { name: "x" } }), true],
  ["cookie name starting with $", get("/", [["cookie", "$existingUser=admin"]]), true],
  ["PHP array parameters", get("/search?filter[status]=active&filter[tags][]=a&sort[price]=asc"), true],
  ["template text with a dollar variable", form("tpl=Hello+%24name%2C+your+order+%24id+shipped"), true],
  ["JavaScript snippet in a comment", form("comment=if+(this.count+%3E+5)+%7B+return+true%3B+%7D"), true],
  ["MongoDB tutorial sentence", form("comment=Call+db.users.find()+to+list+users"), true],
  ["shell-style variable in a value", get("/run?cmd=echo+%24HOME"), true],
  ["currency code list", json({ currencies: ["USD$", "CA$", "A$"], amount: 12.5 }), true],
  ["nested JSON order", json({ customer: { id: 1, email: "jane@example.com" }, items: [{ sku: "A-1", qty: 2 }] }), true],
  ["regex field documented in prose", form("note=use+the+regex+option+for+search"), true],
  ["not-equal text in a message", form("msg=price+%24ne+is+not+a+thing"), true],
  ["XML user", xml("jane.doe"), true],
  ["dollar amount in brackets", get("/pay?amount=[$10]"), true],
  ["GraphQL variables", json({ query: "query($id: ID!) { user(id: $id) { name } }", variables: { id: "42" } }), true],
  ["jQuery snippet", form("code=%24(%22%23menu%22).toggle()"), true],
  ["dollar-prefixed JSON key that is not an operator", json({ $meta: { page: 1 } }), true],
  ["angular expression", form("tpl=%7B%7B+%24ctrl.name+%7D%7D"), true],
];

testPasses(file, namedCases(BENIGN), showIdTargetMatch);

test("the match names the JSON key that carries the operator", (t) => {
  const v = file.verdict(1, json({ user: { $ne: null } }));
  t.is(v.action, "block");
  t.is(v.matches[0]!.target, "args_names:json.user.$ne");
});

test("every rule is in the file's id range and tagged", (t) => {
  t.true(file.rules.length >= 2);
  checkRules(t, file, ["attack-nosqli", "owasp-a03"]);
});
