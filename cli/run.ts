/**
 * The edge of the CLI: turns typed errors into one line on stderr and an exit
 * code (0 ok, 1 failure, 2 usage). Stack traces only with --debug.
 */
import { CommanderError } from "commander";

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export function debugEnabled(argv: readonly string[] = process.argv): boolean {
  return argv.includes("--debug") || process.env.MESH_DEBUG === "1";
}

/** Maps an error to the exit code and writes the one-line message. */
export function reportError(err: unknown, debug: boolean): number {
  if (err instanceof CommanderError) {
    // commander already printed its message; help and version are not errors
    if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.code === "commander.help") return EXIT_OK;
    return EXIT_USAGE;
  }
  if (err instanceof UsageError) {
    process.stderr.write(`mesh: ${err.message}\n`);
    return EXIT_USAGE;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  const code = (e as { code?: unknown }).code;
  const prefix = typeof code === "string" ? `${code}: ` : "";
  process.stderr.write(`mesh: ${prefix}${e.message}\n`);
  if (debug && e.stack) process.stderr.write(`${e.stack}\n`);
  return EXIT_FAILURE;
}
