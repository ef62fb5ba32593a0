/**
 * Word tables of the SQL-injection detector: which SQL words matter and what
 * token class ("letter") they fold to. Everything is lower-case; lookups are
 * done on the case-folded word.
 *
 * Letters used in fingerprints (see sqli-fold.ts):
 *   s string   q empty string left open at the end (the value re-opens the quote)
 *   n number or literal (NULL, TRUE, x = x)   w word / identifier   v @variable   V @@system variable
 *   f function call   F attack function or procedure   E SELECT   U UNION-like
 *   D statement verb phrase (DROP TABLE, INSERT INTO, EXEC @x, ...)   T WAITFOR DELAY/TIME
 *   B clause that may follow an expression (WHERE, ORDER BY, HAVING, LIMIT ...)
 *   X INTO OUTFILE/DUMPFILE   k other keyword   & logic   = comparison   o other operator
 *   c trailing comment, bare   C trailing comment holding text   ( ) , ;   x stray punctuation
 *   ~ (last) more tokens follow
 */

/** Single words with a fixed class. */
const WORD_CLASS: ReadonlyMap<string, string> = new Map<string, string>([
  ["select", "E"],
  ["union", "U"],
  ["intersect", "U"],
  ["except", "U"],
  ["minus", "U"],
  ["and", "&"],
  ["or", "&"],
  ["xor", "&"],
  ["like", "="],
  ["rlike", "="],
  ["ilike", "="],
  ["regexp", "="],
  ["between", "="],
  ["div", "o"],
  ["mod", "o"],
  ["null", "n"],
  ["true", "n"],
  ["false", "n"],
  ["current_user", "n"],
  ["session_user", "n"],
  ["system_user", "n"],
  ["current_timestamp", "n"],
  ["current_date", "n"],
  ["localtimestamp", "n"],
  ["where", "B"],
  ["having", "B"],
  ["limit", "B"],
  ["from", "k"],
  ["into", "k"],
  ["as", "k"],
  ["case", "k"],
  ["when", "k"],
  ["then", "k"],
  ["else", "k"],
  ["end", "k"],
  ["distinct", "k"],
  ["top", "k"],
  ["offset", "k"],
  ["join", "k"],
  ["on", "k"],
  ["all", "k"],
  ["table", "k"],
  ["values", "k"],
  ["collate", "k"],
  ["asc", "k"],
  ["desc", "k"],
  ["dual", "k"],
  ["shutdown", "D"],
  ["exists", "k"],
]);

/** Second words that turn a first word into one token: "first second" -> class. */
const PAIRS: ReadonlyMap<string, ReadonlyMap<string, string>> = (() => {
  const m = new Map<string, Map<string, string>>();
  const add = (first: string, seconds: string, cls: string): void => {
    let inner = m.get(first);
    if (inner === undefined) {
      inner = new Map();
      m.set(first, inner);
    }
    for (const s of seconds.split(" ")) inner.set(s, cls);
  };
  add("union", "all distinct", "U");
  add("intersect", "all distinct", "U");
  add("except", "all distinct", "U");
  add("group", "by", "B");
  add("order", "by", "B");
  add("procedure", "analyse analyze", "F"); // MySQL's PROCEDURE ANALYSE(): an information leak
  add("is", "not null true false unknown", "=");
  add("sounds", "like", "=");
  add("similar", "to", "=");
  const objects = "table database schema view procedure function user index trigger login event sequence";
  for (const verb of ["drop", "create", "alter", "truncate", "rename"]) add(verb, objects, "D");
  add("insert", "into", "D");
  add("replace", "into", "D");
  add("delete", "from", "D");
  add("load", "data", "D");
  add("merge", "into", "D");
  add("waitfor", "delay time", "T");
  add("execute", "immediate", "D");
  add("into", "outfile dumpfile", "X");
  for (const j of ["left", "right", "inner", "outer", "cross", "full", "natural"]) add(j, "join outer", "k");
  return m;
})();

/** Functions that are, in practice, only called by attackers (delays, error leaks, file and network access). */
const ATTACK_FUNCTIONS: ReadonlySet<string> = new Set([
  "sleep",
  "benchmark",
  "pg_sleep",
  "pg_sleep_for",
  "pg_sleep_until",
  "pg_read_file",
  "pg_read_binary_file",
  "pg_ls_dir",
  "lo_import",
  "lo_export",
  "extractvalue",
  "updatexml",
  "load_file",
  "name_const",
  "gtid_subset",
  "sys_eval",
  "sys_exec",
  "load_extension",
  "randomblob",
  "openrowset",
  "opendatasource",
  "openquery",
  "dbms_pipe.receive_message",
  "dbms_lock.sleep",
  "dbms_xmlgen.getxml",
  "utl_http.request",
  "utl_inaddr.get_host_address",
  "utl_inaddr.get_host_name",
  "httpuritype",
  "ctxsys.drithsx.sn",
]);

/** MSSQL procedures called without parentheses; always suspicious. */
const ATTACK_PROCEDURES: ReadonlySet<string> = new Set([
  "xp_cmdshell",
  "xp_dirtree",
  "xp_fileexist",
  "xp_regread",
  "xp_regwrite",
  "xp_servicecontrol",
  "xp_subdirs",
  "xp_availablemedia",
  "sp_oacreate",
  "sp_oamethod",
  "sp_makewebtask",
  "sp_addextendedproc",
  "sp_configure",
  "sp_addlogin",
  "sp_addsrvrolemember",
]);

/** Ordinary SQL functions: a call to one ("f") is a SQL shape, not an attack by itself. */
const FUNCTIONS: ReadonlySet<string> = new Set(
  (
    "char chr nchar concat concat_ws group_concat string_agg listagg substring substr mid left right ascii ord " +
    "unicode hex unhex bin oct conv length len char_length octet_length bit_length count if iif ifnull isnull " +
    "nullif coalesce nvl nvl2 decode cast convert try_cast version database schema user db_name host_name " +
    "user_name suser_name suser_sname is_srvrolemember object_id object_name quotename stuff md5 sha sha1 sha2 " +
    "rand random floor ceil ceiling round abs elt make_set field find_in_set instr locate position replace " +
    "reverse lower upper lcase ucase trim ltrim rtrim lpad rpad repeat space strcmp now sysdate getdate " +
    "current_user session_user system_user to_char to_number rawtohex xmltype sqlite_version typeof zeroblob " +
    "like glob regexp json_extract json_keys json_search json_array json_object json_value json_query jsonb_build_object max min sum avg exists geometrycollection multipoint polygon linestring " +
    "multilinestring multipolygon exp pow power sqrt soundex difference row_number count_big " +
    "connection_id last_insert_id found_rows row_count charset collation uuid pg_typeof current_database " +
    "current_schema inet_server_addr has_database_privilege regexp_substr regexp_like regexp_replace " +
    "instrb substrb lengthb utl_raw.cast_to_varchar2 sys.fn_varbintohexstr fn_varbintohexstr serverproperty " +
    "col_name table_name type_name sp_executesql"
  ).split(" "),
);

/** Everything known about one word, gathered so a word costs one lookup. */
export interface WordInfo {
  /** Class when used bare; "" drops the word (unary NOT); "!" needs a look at what follows. */
  readonly bare: string;
  /** Class when followed by "(". */
  readonly call: string;
  /** Second words that merge with this one, and the class of the pair. */
  readonly pairs: ReadonlyMap<string, string> | undefined;
}

/** Words whose class depends on the next tokens (decided in sqli-fold.ts). */
const CONTEXTUAL = ["exec", "execute", "declare", "update"];

const WORDS: ReadonlyMap<string, WordInfo> = (() => {
  const m = new Map<string, WordInfo>();
  const names = new Set<string>([
    ...WORD_CLASS.keys(),
    ...PAIRS.keys(),
    ...ATTACK_FUNCTIONS,
    ...ATTACK_PROCEDURES,
    ...FUNCTIONS,
    ...CONTEXTUAL,
    "not",
    "is",
    "in",
  ]);
  for (const w of names) {
    let bare = WORD_CLASS.get(w) ?? "w";
    if (ATTACK_PROCEDURES.has(w)) bare = "F";
    if (w === "not") bare = "";
    if (w === "is") bare = "=";
    if (CONTEXTUAL.includes(w)) bare = "!";
    let call = bare;
    if (ATTACK_FUNCTIONS.has(w)) call = "F";
    else if (FUNCTIONS.has(w)) call = "f";
    else if (w === "in") call = "=";
    m.set(w, { bare, call, pairs: PAIRS.get(w) });
  }
  return m;
})();

/** Longest word worth looking up (longer words are plain identifiers). */
export const MAX_KEYWORD = 32;

/** Bit of a word's second character in FIRST_TWO: a..z, "_", digit, anything else. */
function secondBit(c: number): number {
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x7a) return 1 << (l - 0x61);
  if (c === 0x5f) return 1 << 26;
  if (c >= 0x30 && c <= 0x39) return 1 << 27;
  return 1 << 28;
}

/**
 * For each word length and first letter a..z, the bits of the second
 * characters that known words (and second words of pairs) have: most words
 * of a value need no case-folded copy and no lookup at all.
 */
const FIRST_TWO = (() => {
  const masks = new Uint32Array((MAX_KEYWORD + 1) * 26);
  const seconds = [...PAIRS.values()].flatMap((m) => [...m.keys()]);
  for (const w of [...WORDS.keys(), ...seconds, "set"]) {
    const c = w.charCodeAt(0) - 0x61;
    if (w.length <= MAX_KEYWORD && w.length >= 2 && c >= 0 && c < 26) {
      masks[w.length * 26 + c] |= secondBit(w.charCodeAt(1));
    }
  }
  return masks;
})();

/**
 * Could a word of `length` characters starting with character codes `first`,
 * `second` be a known word? (Qualified names are checked in full by the caller.)
 */
export function mayBeKnown(length: number, first: number, second: number): boolean {
  const c = (first | 0x20) - 0x61;
  return length <= MAX_KEYWORD && c >= 0 && c < 26 && (FIRST_TWO[length * 26 + c] & secondBit(second)) !== 0;
}

/** The known words by an FNV-1a hash of their letters (open addressing; entry = index in KNOWN_LIST + 1). */
const KNOWN_LIST = [...WORDS.keys()];
const KNOWN_MASK = (1 << Math.ceil(Math.log2(KNOWN_LIST.length * 2))) - 1;
const KNOWN_TABLE = (() => {
  const table = new Int32Array(KNOWN_MASK + 1);
  KNOWN_LIST.forEach((w, i) => {
    let at = foldedHash(w, 0, w.length) & KNOWN_MASK;
    while (table[at] !== 0) at = (at + 1) & KNOWN_MASK;
    table[at] = i + 1;
  });
  return table;
})();

/**
 * FNV-1a over s[from, to) with ASCII capitals folded to lower case. Its constants are written here as in
 * prefilter/value-scan.ts: imported from one module, the scan loop read them as imported bindings and a
 * 4 KiB JSON body took 1-3 µs longer.
 */
function foldedHash(s: string, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    h = Math.imul(h ^ (c >= 0x41 && c <= 0x5a ? c + 32 : c), 16777619);
  }
  return h;
}

/**
 * Whether s[from, to), ASCII case folded, is a known word (as lookupWord of the lower-cased slice without a
 * dot would say), without cutting and lower-casing it: the prose fast path asks this of most words it meets.
 */
export function isKnownAt(s: string, from: number, to: number): boolean {
  const n = to - from;
  for (let at = foldedHash(s, from, to) & KNOWN_MASK; KNOWN_TABLE[at] !== 0; at = (at + 1) & KNOWN_MASK) {
    const w = KNOWN_LIST[KNOWN_TABLE[at]! - 1]!;
    if (w.length !== n) continue;
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(from + i);
      if ((c >= 0x41 && c <= 0x5a ? c + 32 : c) !== w.charCodeAt(i)) break;
    }
    if (i === n) return true;
  }
  return false;
}

/** What a case-folded word is; qualified names ("db..xp_cmdshell") count by their last part for attack calls. */
export function lookupWord(w: string): WordInfo | undefined {
  const info = WORDS.get(w);
  if (info !== undefined) return info;
  const dot = w.lastIndexOf(".");
  if (dot < 0) return undefined;
  const last = WORDS.get(w.slice(dot + 1));
  return last !== undefined && (last.bare === "F" || last.call === "F") ? last : undefined;
}
