import test from "ava";
import { isKnownAt, lookupWord } from "../../../../proxy/waf/detect/sqli-keywords.js";
import { poolSample } from "../../../helpers/pool-sample.js";
import { seededRandom } from "../../../helpers/seeded-random.js";

const WORDS = ["select", "union", "sleep", "information_schema", "or", "and", "if", "is", "not", "like", "x", "b", "n", "waitfor", "xp_cmdshell"];

test("isKnownAt answers as lookupWord of the lower-cased slice, in any ASCII case and at any offset", (t) => {
  for (const w of WORDS) {
    const known = lookupWord(w) !== undefined;
    for (const form of [w, w.toUpperCase(), w[0]!.toUpperCase() + w.slice(1)]) {
      const s = `(${form} `;
      t.is(isKnownAt(s, 1, 1 + form.length), known, form);
    }
  }
  // random words made of SQL-ish pieces: as many known as unknown come up
  const next = seededRandom(11);
  const pool = ["sel", "ect", "un", "ion", "or", "and", "a", "b", "x", "SLE", "ep", "_", "1", "if", "is", "not", "LIKE"];
  let known = 0;
  for (let i = 0; i < 20_000; i++) {
    const w = poolSample(pool, next, 3);
    const k = lookupWord(w.toLowerCase()) !== undefined;
    if (k) known++;
    t.is(isKnownAt(`.${w}.`, 1, 1 + w.length), k, w);
  }
  t.true(known > 1000, String(known));
});
