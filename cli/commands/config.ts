/** `mesh config validate|export`: check a proxy config, or print it as JSON/YAML. */
import type { Command } from "commander";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { stringify } from "yaml";
import { parseYaml, validateProxyConfig } from "../../proxy/config/load.js";
import { ProxyError } from "../../proxy/errors.js";
import { UsageError } from "../run.js";

function load(file: string): { raw: unknown; text: string } {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ProxyError("invalid_config", `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return { raw: parseYaml(text, file), text };
}

export function registerConfig(program: Command): void {
  const config = program.command("config").description("check and convert proxy configs");
  config
    .command("validate <file>")
    .description("validate a proxy config: exit 0 if good, 1 with every problem and its key path otherwise")
    .option("--json", "print the result as JSON")
    .action((file: string, o: { json?: boolean }) => {
      const { raw } = load(file);
      const { config: c } = validateProxyConfig(raw, dirname(resolve(file)), file);
      const summary = { file, valid: true, name: c.name, listeners: c.listeners.map((l) => `${l.name} (${l.kind}) ${l.listen}`), clusters: c.clusters.map((x) => x.name) };
      if (o.json) process.stdout.write(JSON.stringify(summary) + "\n");
      else process.stdout.write(`${file}: valid (${c.listeners.length} listener(s), ${c.clusters.length} cluster(s))\n`);
    });
  config
    .command("export <file>")
    .description("validate, then print the config as JSON or YAML (as written, so the output validates again)")
    .option("--format <format>", "json | yaml", "json")
    .action((file: string, o: { format: string }) => {
      if (o.format !== "json" && o.format !== "yaml") throw new UsageError(`--format must be json or yaml, got ${o.format}`);
      const { raw } = load(file);
      validateProxyConfig(raw, dirname(resolve(file)), file);
      process.stdout.write(o.format === "json" ? JSON.stringify(raw, null, 2) + "\n" : stringify(raw));
    });
}
