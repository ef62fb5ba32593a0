/**
 * The agent's configuration: one YAML file and/or flags, validated at load.
 * An error names the key path and what was expected; nothing starts.
 */
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { parseDurationSeconds } from "../pki/duration.js";
import { pemDecodeLabel } from "../pki/pem.js";
import { parseSpiffeId, validateTrustDomain } from "../pki/spiffe-id.js";
import { AgentError } from "./errors.js";

const duration = (what: string) =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    const s = typeof v === "number" ? v : parseDurationSeconds(v);
    if (s === undefined || !(s > 0)) {
      ctx.addIssue({ code: "custom", message: `${what}: expected a duration such as 500ms, 30s, 5m` });
      return z.NEVER;
    }
    return s;
  });

const listen = z.string().regex(/^(\[[^\]]+\]|[^:]*):\d{1,5}$/, "expected HOST:PORT");

const workloadOptions = z
  .object({
    uid: z.number().int().min(0).optional(),
    gid: z.number().int().min(0).optional(),
    app_token_file: z.string().optional(),
  })
  .strict();

export const agentConfigSchema = z
  .object({
    node: z.string().regex(/^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$/, "expected a node name of [a-z0-9._-]"),
    trust_domain: z.string().optional(),
    ca: z.object({ url: z.string().url(), bundle_file: z.string() }).strict(),
    join_token_file: z.string().optional(),
    data_dir: z.string(),
    sds_dir: z.string(),
    poll_interval: duration("poll_interval").default(5),
    renewal: z
      .object({ fraction: z.number().gt(0).lt(1).default(0.5), jitter: z.number().min(0).lt(0.5).default(0.1) })
      .strict()
      .default({ fraction: 0.5, jitter: 0.1 }),
    backoff: z
      .object({ initial: duration("backoff.initial").default(0.5), max: duration("backoff.max").default(60) })
      .strict()
      .default({ initial: 0.5, max: 60 }),
    max_concurrent_signs: z.number().int().min(1).max(256).default(32),
    workloads: z.record(z.string(), workloadOptions).default({}),
    admin: z.object({ listen: listen.default("127.0.0.1:15090") }).strict().default({ listen: "127.0.0.1:15090" }),
    audit_db: z.string().optional(),
  })
  .strict();

export type AgentConfigInput = z.input<typeof agentConfigSchema>;
export type AgentConfig = z.output<typeof agentConfigSchema> & { trust_domain: string };

function formatIssues(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`).join("; ");
}

/** The trust domain named by the bundle's root (its URI SAN spiffe://<td>), if it has one. */
export function trustDomainOfBundle(pem: string): string | undefined {
  for (const der of pemDecodeLabel(pem, "CERTIFICATE")) {
    const san = new X509Certificate(der).subjectAltName ?? "";
    const m = /URI:(spiffe:\/\/[^,\s]+)/.exec(san);
    if (m) {
      try {
        return parseSpiffeId(m[1]!).trustDomain;
      } catch {
        /* not a SPIFFE ID: try the next root */
      }
    }
  }
  return undefined;
}

/** Validates raw config (from YAML and flags merged); relative paths resolve against baseDir. */
export function parseAgentConfig(raw: unknown, baseDir = process.cwd()): AgentConfig {
  const r = agentConfigSchema.safeParse(raw);
  if (!r.success) throw new AgentError("config_invalid", `invalid agent config: ${formatIssues(r.error)}`);
  const c = r.data;
  const abs = (p: string) => resolve(baseDir, p);
  c.ca.bundle_file = abs(c.ca.bundle_file);
  c.data_dir = abs(c.data_dir);
  c.sds_dir = abs(c.sds_dir);
  if (c.join_token_file) c.join_token_file = abs(c.join_token_file);
  if (c.audit_db) c.audit_db = abs(c.audit_db);
  for (const w of Object.keys(c.workloads)) {
    const opt = c.workloads[w]!;
    if (opt.app_token_file) opt.app_token_file = abs(opt.app_token_file);
  }
  let td = c.trust_domain;
  if (td === undefined) {
    let pem: string;
    try {
      pem = readFileSync(c.ca.bundle_file, "utf8");
    } catch {
      throw new AgentError("config_invalid", `ca.bundle_file: cannot read ${c.ca.bundle_file}`);
    }
    td = trustDomainOfBundle(pem);
    if (!td) throw new AgentError("config_invalid", "trust_domain: not set and the CA bundle names none; pass --trust-domain");
  }
  try {
    validateTrustDomain(td);
  } catch (err) {
    throw new AgentError("config_invalid", `trust_domain: ${(err as Error).message}`);
  }
  return { ...c, trust_domain: td };
}

export function loadAgentConfigFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    throw new AgentError("config_invalid", `cannot read config file ${path}`);
  }
  if (text.length > 1024 * 1024) throw new AgentError("config_invalid", `config file ${path} is larger than 1 MiB`);
  try {
    return parseYaml(text, { maxAliasCount: 100 }) ?? {};
  } catch (err) {
    throw new AgentError("config_invalid", `${path}: ${(err as Error).message.split("\n")[0]}`);
  }
}
