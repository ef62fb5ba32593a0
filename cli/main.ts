#!/usr/bin/env node
/** `mesh`: argument parsing and wiring only; the work lives in the parts. */
import "reflect-metadata";
import { Command } from "commander";
import { registerAgent } from "./commands/agent.js";
import { registerAudit } from "./commands/audit.js";
import { registerCa } from "./commands/ca.js";
import { registerConfig } from "./commands/config.js";
import { registerProxy } from "./commands/proxy.js";
import { registerUp } from "./commands/up.js";
import { registerWaf } from "./commands/waf.js";
import { debugEnabled, reportError } from "./run.js";

export function buildProgram(): Command {
  const program = new Command("mesh")
    .description("Security-focused service mesh: SPIFFE identities, mTLS sidecars, request authentication, WAF, audit")
    .version("0.1.0")
    .option("--debug", "print stack traces on errors")
    .showHelpAfterError(false)
    .exitOverride();
  registerUp(program);
  registerCa(program);
  registerAgent(program);
  registerProxy(program);
  registerConfig(program);
  registerAudit(program);
  registerWaf(program);
  return program;
}

/** A process `mesh up` started stops (gracefully, via SIGTERM) when `mesh up` is gone, even if it was killed with SIGKILL. */
function exitWithParent(): void {
  const parent = Number(process.env.MESH_EXIT_WITH_PARENT);
  if (!Number.isInteger(parent) || parent <= 1) return;
  setInterval(() => {
    if (process.ppid !== parent) process.kill(process.pid, "SIGTERM");
  }, 1000).unref();
}

async function main(): Promise<void> {
  exitWithParent();
  const program = buildProgram();
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    process.exitCode = reportError(err, debugEnabled());
  }
}

await main();
