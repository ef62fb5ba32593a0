/**
 * Loading a sidecar config: YAML text (bounded) → schema → cross-checks the
 * schema cannot express (unique names and ports, routes naming real
 * clusters, each filter block checked by its own filter's schema) → paths
 * made absolute. Every problem is reported at once, each with its key path.
 */
import { readFileSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseDocument } from "yaml";
import { ProxyError } from "../errors.js";
import { FILTER_FACTORIES } from "../filters/registry.js";
import { formatIssues } from "../routing/config-path.js";
import { checkRouteClusters } from "../routing/table.js";
import { proxyConfigSchema, type ProxyConfig } from "./schema.js";

export const MAX_CONFIG_BYTES = 1024 * 1024;

export interface LoadedFilter {
  name: string;
  config: unknown;
}

export interface LoadedConfig {
  config: ProxyConfig;
  /** Validated filter blocks per listener, same order as config.listeners. */
  filters: LoadedFilter[][];
  baseDir: string;
}

function isLoopback(hostPort: string): boolean {
  const host = hostPort.slice(0, hostPort.lastIndexOf(":")).replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Parses YAML text; syntax errors name the line. */
export function parseYaml(text: string, source: string): unknown {
  if (text.length > MAX_CONFIG_BYTES) throw new ProxyError("invalid_config", `${source}: larger than ${MAX_CONFIG_BYTES} bytes`);
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const where = e.linePos?.[0] ? ` (line ${e.linePos[0].line}, column ${e.linePos[0].col})` : "";
    throw new ProxyError("invalid_config", `${source}: YAML syntax error${where}: ${e.message.split("\n")[0]}`);
  }
  return doc.toJS({ maxAliasCount: 100 });
}

/** Validates a parsed document; relative paths resolve against baseDir. */
export function validateProxyConfig(raw: unknown, baseDir: string, source = "config"): LoadedConfig {
  const r = proxyConfigSchema.safeParse(raw);
  if (!r.success) throw new ProxyError("invalid_config", `${source}: ${formatIssues(r.error).join("; ")}`);
  const c = r.data;
  const errors: string[] = [];

  const seen = new Map<string, string>();
  const unique = (kind: string, value: string, at: string): void => {
    // port 0 asks the kernel for any free port: several of those never clash
    if (kind === "listen address" && value.endsWith(":0")) return;
    const key = `${kind}\u0000${value}`;
    const first = seen.get(key);
    if (first) errors.push(`${at}: ${kind} "${value}" already used at ${first}`);
    else seen.set(key, at);
  };
  c.clusters.forEach((cl, i) => unique("cluster name", cl.name, `clusters[${i}].name`));
  const clusterNames = c.clusters.map((cl) => cl.name);
  unique("listen address", c.admin.listen, "admin.listen");
  if (!isLoopback(c.admin.listen)) errors.push(`admin.listen: must be a loopback address (127.0.0.1, ::1, localhost), got ${c.admin.listen}`);

  const filters: LoadedFilter[][] = c.listeners.map((l, i) => {
    const at = `listeners[${i}]`;
    unique("listener name", l.name, `${at}.name`);
    unique("listen address", l.listen, `${at}.listen`);
    if (l.kind === "outbound" && !isLoopback(l.listen)) errors.push(`${at}.listen: an outbound listener takes plain HTTP from the local app and must be on loopback`);
    for (const e of checkRouteClusters(l.routes, clusterNames)) errors.push(`${at}.${e}`);
    return l.filters.map((item, j) => {
      const [name, block] = Object.entries(item)[0]!;
      const factory = FILTER_FACTORIES.get(name);
      const fat = `${at}.filters[${j}]`;
      if (!factory) {
        errors.push(`${fat}: unknown filter "${name.slice(0, 64)}" (known: ${[...FILTER_FACTORIES.keys()].join(", ")})`);
        return { name, config: undefined };
      }
      const fr = factory.schema.safeParse(block ?? {});
      if (!fr.success) {
        for (const line of formatIssues(fr.error)) errors.push(`${fat}.${name}${line.startsWith("(root)") ? line.slice(6) : `.${line}`}`);
        return { name, config: undefined };
      }
      for (const e of factory.check?.(fr.data, baseDir) ?? []) errors.push(`${fat}.${name}: ${e}`);
      return { name, config: fr.data };
    });
  });
  c.clusters.forEach((cl, i) => {
    if (cl.spiffe_id === undefined && cl.endpoints) {
      for (const ep of cl.endpoints) {
        if (!isLoopback(ep)) errors.push(`clusters[${i}]: endpoint ${ep} is not on loopback, so it needs spiffe_id (plain HTTP never leaves the host)`);
      }
    }
  });
  if (errors.length > 0) throw new ProxyError("invalid_config", `${source}: ${errors.join("; ")}`);

  const abs = (p: string): string => resolve(baseDir, p);
  c.sds.socket = abs(c.sds.socket);
  if (c.sds.app_token_file) c.sds.app_token_file = abs(c.sds.app_token_file);
  if (c.audit_db) c.audit_db = abs(c.audit_db);
  if (c.access_log !== "stdout" && c.access_log !== "off") c.access_log = abs(c.access_log);
  for (const l of c.listeners) {
    if (l.tls) l.tls = { cert_file: abs(l.tls.cert_file), key_file: abs(l.tls.key_file) };
  }
  for (const cl of c.clusters) if (cl.endpoints_file) cl.endpoints_file = abs(cl.endpoints_file);
  return { config: c, filters, baseDir };
}

/** Reads, parses and validates a config file. */
export function loadProxyConfigFile(file: string): LoadedConfig {
  let text: string;
  try {
    if (statSync(file).size > MAX_CONFIG_BYTES) throw new ProxyError("invalid_config", `${file}: larger than ${MAX_CONFIG_BYTES} bytes`);
    text = readFileSync(file, "utf8");
  } catch (err) {
    if (err instanceof ProxyError) throw err;
    throw new ProxyError("invalid_config", `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return validateProxyConfig(parseYaml(text, file), dirname(resolve(file)), file);
}

