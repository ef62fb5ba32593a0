/**
 * Names of JSON leaves ("json.items.0.sku") as the same string objects from
 * one request to the next. The engine looks every name up in its memory of
 * values (value-memo.ts); a name built afresh each time has to be joined,
 * hashed and compared character by character there, the same string object
 * is found by its cached hash and one pointer comparison. Bounded: at most
 * MAX_NAMES names and MAX_CHARS characters, then it starts over (a flood of
 * distinct keys costs a rebuild, never memory).
 */
const MAX_NAMES = 8192;
const MAX_CHARS = 1 << 20;

/** Children by parent name: object keys and array indexes. */
const children = new Map<string, Map<string | number, string>>();
let names = 0;
let chars = 0;

/** parent + "." + key, as the string returned for the same parent and key before (while it is kept). */
export function childName(parent: string, key: string | number): string {
  let kids = children.get(parent);
  if (kids === undefined) {
    if (names >= MAX_NAMES || chars >= MAX_CHARS) {
      children.clear();
      names = 0;
      chars = 0;
    }
    kids = new Map();
    children.set(parent, kids);
  }
  let name = kids.get(key);
  if (name === undefined) {
    name = `${parent}.${key}`;
    kids.set(key, name);
    names++;
    chars += name.length;
  }
  return name;
}
