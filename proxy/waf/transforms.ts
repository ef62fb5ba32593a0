/**
 * The WAF's transformation functions by name (ModSecurity's t: functions,
 * snake_case). Every one is total, linear and returns its input unchanged
 * (the same string) when there is nothing to do; see transforms/ for each.
 */
import type { Transform } from "./types.js";
import { base64Decode, base64DecodeExt, hexDecode, sqlHexDecode } from "./transforms/binary.js";
import { cmdLine } from "./transforms/cmdline.js";
import { removeComments, removeCommentsChar, replaceComments } from "./transforms/comments.js";
import { cssDecode, escapeSeqDecode, jsDecode } from "./transforms/escapes.js";
import { htmlEntityDecode } from "./transforms/html.js";
import { normalizePath, normalizePathWin } from "./transforms/path.js";
import {
  compressWhitespace,
  length,
  lowercase,
  none,
  removeNulls,
  removeWhitespace,
  replaceNulls,
  trim,
} from "./transforms/text.js";
import { urlDecode, urlDecodeUni, utf8ToUnicode } from "./transforms/url.js";
import {
  F_ALWAYS,
  F_AMP,
  F_BACKSLASH,
  F_CARET,
  F_COMMA_SEMI,
  F_COMMENT,
  F_CTRL_SPACE,
  F_DOUBLE_SPACE,
  F_EDGE_SPACE,
  F_HIGH,
  F_NUL,
  F_PATH,
  F_PERCENT,
  F_PLUS,
  F_QUOTE,
  F_SPACE,
  F_SPACE_BEFORE_TIGHT,
  F_UPPER,
  F_WIDE,
  F_ZERO,
} from "./prefilter/features.js";

export type TransformName =
  | "none"
  | "lowercase"
  | "url_decode"
  | "url_decode_uni"
  | "html_entity_decode"
  | "js_decode"
  | "css_decode"
  | "remove_nulls"
  | "replace_nulls"
  | "compress_whitespace"
  | "remove_whitespace"
  | "normalize_path"
  | "normalize_path_win"
  | "cmd_line"
  | "remove_comments"
  | "replace_comments"
  | "remove_comments_char"
  | "base64_decode"
  | "base64_decode_ext"
  | "hex_decode"
  | "sql_hex_decode"
  | "escape_seq_decode"
  | "utf8_to_unicode"
  | "trim"
  | "length";

/** A Record so the compiler checks that every name has a function. */
const BY_NAME: Readonly<Record<TransformName, Transform>> = {
  none,
  lowercase,
  url_decode: urlDecode,
  url_decode_uni: urlDecodeUni,
  html_entity_decode: htmlEntityDecode,
  js_decode: jsDecode,
  css_decode: cssDecode,
  remove_nulls: removeNulls,
  replace_nulls: replaceNulls,
  compress_whitespace: compressWhitespace,
  remove_whitespace: removeWhitespace,
  normalize_path: normalizePath,
  normalize_path_win: normalizePathWin,
  cmd_line: cmdLine,
  remove_comments: removeComments,
  replace_comments: replaceComments,
  remove_comments_char: removeCommentsChar,
  base64_decode: base64Decode,
  base64_decode_ext: base64DecodeExt,
  hex_decode: hexDecode,
  sql_hex_decode: sqlHexDecode,
  escape_seq_decode: escapeSeqDecode,
  utf8_to_unicode: utf8ToUnicode,
  trim,
  length,
};

/**
 * The value features (prefilter/features.ts) each transformation can change
 * a value on: a value with none of them comes back as the same string. The
 * engine skips a whole chain for such values; a property test checks each
 * entry against its function.
 */
export const CHANGES_ON: Readonly<Record<TransformName, number>> = {
  none: 0,
  lowercase: F_UPPER | F_WIDE,
  url_decode: F_PERCENT | F_PLUS,
  url_decode_uni: F_PERCENT | F_PLUS,
  html_entity_decode: F_AMP,
  js_decode: F_BACKSLASH,
  css_decode: F_BACKSLASH,
  escape_seq_decode: F_BACKSLASH,
  remove_nulls: F_NUL,
  replace_nulls: F_NUL,
  compress_whitespace: F_CTRL_SPACE | F_HIGH | F_DOUBLE_SPACE,
  remove_whitespace: F_SPACE | F_CTRL_SPACE | F_HIGH,
  trim: F_EDGE_SPACE,
  normalize_path: F_PATH,
  normalize_path_win: F_PATH | F_BACKSLASH,
  cmd_line: F_BACKSLASH | F_QUOTE | F_CARET | F_COMMA_SEMI | F_CTRL_SPACE | F_HIGH | F_SPACE_BEFORE_TIGHT | F_UPPER | F_WIDE,
  remove_comments: F_COMMENT,
  replace_comments: F_COMMENT,
  remove_comments_char: F_COMMENT,
  sql_hex_decode: F_ZERO,
  utf8_to_unicode: F_HIGH | F_WIDE,
  base64_decode: F_ALWAYS,
  base64_decode_ext: F_ALWAYS,
  hex_decode: F_ALWAYS,
  length: F_ALWAYS,
};

export const TRANSFORMS: ReadonlyMap<TransformName, Transform> = new Map(
  Object.entries(BY_NAME) as [TransformName, Transform][],
);

export function isTransformName(s: string): s is TransformName {
  return Object.prototype.hasOwnProperty.call(BY_NAME, s);
}
