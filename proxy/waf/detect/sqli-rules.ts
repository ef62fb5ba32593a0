/**
 * Decision rules over fingerprints (letters in sqli-keywords.ts). Each rule is
 * a pattern of token classes describing a piece of SQL grammar an injection
 * needs; benign text rarely produces those shapes because it lacks the
 * operators, quotes and keyword order they require.
 */

/**
 * Builds a RegExp from a pattern written with short names for recurring
 * pieces (none of them is a fingerprint letter):
 *   A operand   K operand that is not a bare word   P closing parens   Q opening parens
 *   M trailing comment (outside [...] only)
 *   N "the next two tokens are not prose": no two operands side by side, no operand before "("
 */
function rx(src: string): RegExp {
  return new RegExp(
    src
      .replace(/A/g, "[nsqvVw]")
      .replace(/K/g, "[nsqvV]")
      .replace(/P/g, "\\)*")
      .replace(/Q/g, "\\(*")
      .replace(/M/g, "[cC]")
      .replace(/N/g, "(?![nsqvVw][nsqvVw]|[nsqvV)]\\()"),
  );
}

/** One token of an expression: operand, call, operator, parenthesis, comma or stray punctuation. */
const EXPR_TOKEN = "N[nsqvVwfF()o&=,x]";

/** Right side of a comparison: an operand not followed by more operands (prose), a call or a subquery. */
const RIGHT_ANY = "Q(?:[fF]\\(|E|[nsqvVw](?![nsqvVw(]))";
const RIGHT_NOT_WORD = "Q(?:[fF]\\(|E|[nsqvV](?![nsqvVw(]))";

/**
 * A comparison opening an expression, within a few tokens. Two bare names
 * compared ("this is that") are prose, so one side must be a literal,
 * variable, call or subquery.
 */
const COMPARISON = `(?:QN(?:K|[fF]\\()(?:N[nsqvVwfF()ox]){0,4}=${RIGHT_ANY}|QwP=${RIGHT_NOT_WORD})`;

/**
 * A call whose first argument reads as SQL: a literal or variable alone, a
 * nested call, a subquery, nothing, or a name followed by , ) or an operator.
 * "sleep (8 hours)" is prose: a number followed by a word.
 */
const CALL = "\\(Q(?:[nsqvV](?![nsqvVw(])|[fF]\\(|E|\\)|w[,)=o&])";

/** A clause continuing a statement: ORDER BY 1, HAVING 1=1, ORDER BY name--, LIMIT (SELECT ...) */
const CLAUSE = "B(?:Q(?:[nvV](?![nsqvVw(])|[fF]\\(|E)|w[c,B;])";

/** A select list worth the name: a number, variable, call or subquery, or a name or string followed by , FROM ... */
const SELECT_LIST = "E(?:Q(?:[nvV](?![nsqvVw(])|[fF]\\(|\\()|[ws][,kBXc;)U~])";

/** Rules that hold in every context: constructs that only SQL produces. */
const ANYWHERE: readonly RegExp[] = [
  rx("(?:^|[^w])F(?:[(snqvV;~]|$)"), // sleep(5), extractvalue(1,...), xp_cmdshell 'dir'
  rx("T[snqv(]"), // waitfor delay '0:0:5'
  rx("X"), // into outfile / dumpfile
  rx("[E,(=&oU;]QV|^V(?:$|M|[=o&;)])"), // select @@version   1=@@version
  rx(`UQ${SELECT_LIST}`), // union [all] select <list>
  rx("(?:^|[nsv)])PUQE"), // 1 union select
  rx("[,(=o&]\\(E(?:Q[nvVfF(]|w[,kBcC])"), // ,(select ...)  =(select ...)
  rx(`;Q(?:[DT]|${SELECT_LIST})`), // stacked statement
];

/**
 * Rules for a value that breaks out of a quoted string or name: the
 * fingerprint starts with that "s" (and the parentheses it closes).
 */
const QUOTED: readonly RegExp[] = [
  rx(`^sP&${COMPARISON}`), // ' or 'a'='a   ') and (1=1
  rx("^sP&QN(?:K|wP=QA)P(?:M|;)"), // ' or 1--   ' or a=b--   ' or true;
  rx(`^sP&Q[fF]${CALL}`), // ' and ascii(...)
  rx("^sP[&o=]\\(+E"), // ' or (select ...)   '+(select ...)+'
  rx(`^sPoQf${CALL}`), // '+char(39)+'
  rx("^sP[DT][^sq]"), // ' drop table x   ' declare @a
  rx("^sP;(?:[EDTFk(v]|w[=(])"), // '; select ...
  rx("^s\\)+&\\("), // ') or ('
  rx("^sPE(?:Q[vVfF]|n[,ckU;]|w[,Bc])"), // ' select 1 (MSSQL needs no separator)
];

/**
 * Weaker shapes, only for strings (quoted names rarely take values, while
 * backticks are common in prose and markdown).
 */
const STRING_ONLY: readonly RegExp[] = [
  rx("^sPc"), // admin'--  admin'#  x')/*
  rx("^sP;(?:M|$)"), // admin';
  rx("^sP=QAPc|^s=q$"), // '=0--   id'is not id--   '='
  rx(`^sP${CLAUSE}`), // ' order by 1   ' order by name--   ' having 1=1
  // an expression spliced in: breakout, operator, expression, then a comment or an operator re-opening the quote
  rx(`^sP[o&]QN(?:[nvVw]|[fF]\\()(?:${EXPR_TOKEN})*(?:c|[o&]q)$`), // '+x+'   '||f()||'   '-1--
];

/** Rules for a value used as it is (a number or name spliced into SQL). */
const BARE: readonly RegExp[] = [
  rx(`^(?:AP)?&${COMPARISON}`), // 1 or 1=1   or 1=1
  rx("^(?:AP)?&QNKPc"), // 1 or 1--
  rx(`^(?:AP)?&Q[fF]${CALL}`), // 1 and ascii(substr(...))>64
  rx("^(?:KP)?[&o=]\\(+E"), // 1 and (select ...)  1-(select ...)
  rx("^\\(+EQ[nvVfF(]"), // (select user())
  rx("^\\(*EQ(?:[fFvV]|n,|nkw(?:[BkU;cC),]|$))"), // select char(...)   select * from t
  rx("^\\(*E[nw]kw[BU;cC)]"), // select a from t where
  rx("^D[svV]|^D\\(+[vV]"), // declare @a   exec (@q)   execute immediate '...'
  rx("^DwP[;cC]"), // delete from t;--
  rx(`^KP${CLAUSE}`), // 1 order by 1   1) having 1=1   1 order by x--
  rx("^KP(?:\\)c|;c)"), // 1)--   1;--
];

/** One alternation per context, so a fingerprint costs one regex run. */
function union(...groups: (readonly RegExp[])[]): RegExp {
  return new RegExp(
    groups
      .flat()
      .map((r) => `(?:${r.source})`)
      .join("|"),
  );
}
const BY_CONTEXT = {
  none: union(ANYWHERE, BARE),
  string: union(ANYWHERE, QUOTED, STRING_ONLY),
  name: union(ANYWHERE, QUOTED),
} as const;

/** Fingerprints made only of these letters match no rule: skip the alternation. */
const INERT_FP = /^[wnsqx]*~?$/;

/** Does a fingerprint read as-is, after a string quote or after a name quote look like an injection? */
export function isInjection(fp: string, context: "none" | "string" | "name"): boolean {
  if (INERT_FP.test(fp)) return false;
  return BY_CONTEXT[context].test(fp);
}
