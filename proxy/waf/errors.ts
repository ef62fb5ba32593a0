/**
 * WAF failures with stable codes. A rule file problem names its file and
 * line so the author can fix it; the proxy turns these into a refused
 * configuration (exit 1), never into a running proxy with half its rules.
 */
export type WafErrorCode =
  | "rule_invalid" // a rule file that does not parse or a rule that does not compile
  | "rules_not_found" // the rules directory or file is missing or empty
  | "config_invalid"; // WAF settings that contradict each other

export class WafError extends Error {
  override readonly name = "WafError";
  constructor(
    readonly code: WafErrorCode,
    message: string,
    /** Where the problem is ("waf-rules/942-sqli.yaml:12"), when it is in a file. */
    readonly location?: string,
    options?: { cause?: unknown },
  ) {
    super(location ? `${location}: ${message}` : message, options);
  }
}

export function isWafError(err: unknown): err is WafError {
  return err instanceof WafError;
}

/** Raised while compiling one rule, with the path (inside the rule) of the part that failed; the loader adds file and line. */
export class RuleCompileError extends Error {
  constructor(
    readonly path: readonly (string | number)[],
    message: string,
  ) {
    super(message);
  }
}
