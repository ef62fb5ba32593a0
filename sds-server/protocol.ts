/**
 * The SDS wire format: the JSON form of Envoy's DiscoveryRequest and
 * DiscoveryResponse for the TLS Secret type. Every frame is parsed strictly
 * (known fields only, typed, bounded) because both ends face a peer that may
 * be hostile or broken; failures are SdsErrors with a stable code.
 */
import { SdsError } from "./errors.js";

export const SECRET_TYPE_URL = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret";

/** The workload's certificate chain and private key. */
export const DEFAULT_RESOURCE = "default";
/** The trust bundle and CRLs. */
export const ROOTCA_RESOURCE = "ROOTCA";
export type ResourceName = typeof DEFAULT_RESOURCE | typeof ROOTCA_RESOURCE;
export const RESOURCE_NAMES: readonly ResourceName[] = [DEFAULT_RESOURCE, ROOTCA_RESOURCE];

export const LIMITS = {
  resourceNames: 16,
  resourceNameLength: 256,
  /** type_url, version_info, nonces, node fields. */
  shortString: 256,
  errorMessage: 4096,
  /** One PEM blob (chain, key, bundle or CRL set). */
  pem: 1024 * 1024,
} as const;

/** Secrets held for one workload; a resource is absent until the agent has it. */
export interface WorkloadSecrets {
  default?: { certificateChainPem: string; privateKeyPem: string };
  ROOTCA?: { trustedCaPem: string; crlPem?: string };
}

export interface DiscoveryRequest {
  type_url: string;
  resource_names: ResourceName[];
  version_info: string;
  response_nonce: string;
  node?: { id?: string; cluster?: string };
  error_detail?: { code?: number; message: string };
}

interface DataSource {
  inline_string: string;
}
export interface TlsCertificateResource {
  name: typeof DEFAULT_RESOURCE;
  tls_certificate: { certificate_chain: DataSource; private_key: DataSource };
}
export interface ValidationContextResource {
  name: typeof ROOTCA_RESOURCE;
  validation_context: { trusted_ca: DataSource; crl?: DataSource };
}
export type SecretResource = TlsCertificateResource | ValidationContextResource;

export interface DiscoveryResponse {
  version_info: string;
  nonce: string;
  type_url: string;
  resources: SecretResource[];
}

const WORKLOAD_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export function isValidWorkloadName(name: unknown): name is string {
  return typeof name === "string" && WORKLOAD_NAME.test(name) && name !== "." && name !== "..";
}

function invalid(message: string): SdsError {
  return new SdsError("invalid_message", message);
}

function record(value: unknown, what: string, allowed: readonly string[]): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalid(`${what} must be an object`);
  const obj = value as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    // Never echo the key: it is peer-controlled and ends up in logs.
    if (!allowed.includes(key)) throw invalid(`${what} has an unknown field`);
  }
  return obj;
}

function str(value: unknown, what: string, max: number, opts: { optional?: boolean; nonEmpty?: boolean } = {}): string {
  if (value === undefined && opts.optional) return "";
  if (typeof value !== "string") throw invalid(`${what} must be a string`);
  if (value.length > max) throw invalid(`${what} is longer than ${max} characters`);
  if (opts.nonEmpty && value.length === 0) throw invalid(`${what} must not be empty`);
  return value;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new SdsError("invalid_json", "frame is not valid JSON");
  }
}

function resourceNames(value: unknown): ResourceName[] {
  if (!Array.isArray(value)) throw invalid("resource_names must be an array");
  if (value.length === 0) throw invalid("resource_names must not be empty (SDS has no wildcard)");
  if (value.length > LIMITS.resourceNames) throw invalid(`resource_names has more than ${LIMITS.resourceNames} entries`);
  const names: ResourceName[] = [];
  value.forEach((v: unknown, i) => {
    const name = str(v, `resource_names[${i}]`, LIMITS.resourceNameLength);
    if (!(RESOURCE_NAMES as readonly string[]).includes(name)) {
      throw new SdsError("unknown_resource", `resource_names[${i}] is not a known resource (default, ROOTCA)`);
    }
    if (names.includes(name as ResourceName)) throw invalid(`resource_names[${i}] is a duplicate`);
    names.push(name as ResourceName);
  });
  return names;
}

function checkTypeUrl(value: unknown): string {
  const typeUrl = str(value, "type_url", LIMITS.shortString);
  if (typeUrl !== SECRET_TYPE_URL) throw new SdsError("unsupported_type", "type_url is not the TLS Secret type");
  return typeUrl;
}

const REQUEST_FIELDS = ["type_url", "resource_names", "version_info", "response_nonce", "node", "error_detail"] as const;

/** Parses one client frame. Empty proto3 strings may be omitted, as Envoy does. */
export function parseDiscoveryRequest(text: string): DiscoveryRequest {
  const obj = record(parseJson(text), "request", REQUEST_FIELDS);
  const req: DiscoveryRequest = {
    type_url: checkTypeUrl(obj.type_url),
    resource_names: resourceNames(obj.resource_names),
    version_info: str(obj.version_info, "version_info", LIMITS.shortString, { optional: true }),
    response_nonce: str(obj.response_nonce, "response_nonce", LIMITS.shortString, { optional: true }),
  };
  if (obj.node !== undefined) {
    const node = record(obj.node, "node", ["id", "cluster"]);
    req.node = {};
    if (node.id !== undefined) req.node.id = str(node.id, "node.id", LIMITS.shortString);
    if (node.cluster !== undefined) req.node.cluster = str(node.cluster, "node.cluster", LIMITS.shortString);
  }
  if (obj.error_detail !== undefined) {
    const detail = record(obj.error_detail, "error_detail", ["code", "message"]);
    req.error_detail = { message: str(detail.message, "error_detail.message", LIMITS.errorMessage) };
    if (detail.code !== undefined) {
      if (typeof detail.code !== "number" || !Number.isInteger(detail.code) || detail.code < 0 || detail.code > 16) {
        throw invalid("error_detail.code must be a gRPC status code (0-16)");
      }
      req.error_detail.code = detail.code;
    }
  }
  return req;
}

function dataSource(value: unknown, what: string): DataSource {
  const obj = record(value, what, ["inline_string"]);
  return { inline_string: str(obj.inline_string, `${what}.inline_string`, LIMITS.pem, { nonEmpty: true }) };
}

function parseResource(value: unknown, i: number): SecretResource {
  const what = `resources[${i}]`;
  const obj = record(value, what, ["name", "tls_certificate", "validation_context"]);
  const name = str(obj.name, `${what}.name`, LIMITS.resourceNameLength);
  if (name === DEFAULT_RESOURCE) {
    if (obj.validation_context !== undefined) throw invalid(`${what} mixes secret kinds`);
    const tls = record(obj.tls_certificate, `${what}.tls_certificate`, ["certificate_chain", "private_key"]);
    return {
      name,
      tls_certificate: {
        certificate_chain: dataSource(tls.certificate_chain, `${what}.certificate_chain`),
        private_key: dataSource(tls.private_key, `${what}.private_key`),
      },
    };
  }
  if (name === ROOTCA_RESOURCE) {
    if (obj.tls_certificate !== undefined) throw invalid(`${what} mixes secret kinds`);
    const vc = record(obj.validation_context, `${what}.validation_context`, ["trusted_ca", "crl"]);
    const res: ValidationContextResource = { name, validation_context: { trusted_ca: dataSource(vc.trusted_ca, `${what}.trusted_ca`) } };
    if (vc.crl !== undefined) res.validation_context.crl = dataSource(vc.crl, `${what}.crl`);
    return res;
  }
  throw new SdsError("unknown_resource", `${what}.name is not a known resource`);
}

/** Parses one server frame (used by the client). */
export function parseDiscoveryResponse(text: string): DiscoveryResponse {
  const obj = record(parseJson(text), "response", ["version_info", "nonce", "type_url", "resources"]);
  const res: DiscoveryResponse = {
    version_info: str(obj.version_info, "version_info", LIMITS.shortString, { nonEmpty: true }),
    nonce: str(obj.nonce, "nonce", LIMITS.shortString, { nonEmpty: true }),
    type_url: checkTypeUrl(obj.type_url),
    resources: [],
  };
  if (!Array.isArray(obj.resources)) throw invalid("resources must be an array");
  if (obj.resources.length > LIMITS.resourceNames) throw invalid("too many resources");
  obj.resources.forEach((r: unknown, i) => {
    const parsed = parseResource(r, i);
    if (res.resources.some((x) => x.name === parsed.name)) throw invalid(`resources[${i}] is a duplicate`);
    res.resources.push(parsed);
  });
  return res;
}

/**
 * The wire resources for `names`, in that order; undefined while any of them
 * is missing (the client is answered once its whole set exists, like Envoy
 * warming a secret).
 */
export function buildResources(secrets: WorkloadSecrets, names: readonly ResourceName[]): SecretResource[] | undefined {
  const out: SecretResource[] = [];
  for (const name of names) {
    if (name === DEFAULT_RESOURCE) {
      const d = secrets.default;
      if (!d) return undefined;
      out.push({
        name,
        tls_certificate: { certificate_chain: { inline_string: d.certificateChainPem }, private_key: { inline_string: d.privateKeyPem } },
      });
    } else {
      const r = secrets.ROOTCA;
      if (!r) return undefined;
      const res: ValidationContextResource = { name, validation_context: { trusted_ca: { inline_string: r.trustedCaPem } } };
      if (r.crlPem !== undefined) res.validation_context.crl = { inline_string: r.crlPem };
      out.push(res);
    }
  }
  return out;
}

export function resourcesToSecrets(resources: readonly SecretResource[]): WorkloadSecrets {
  const secrets: WorkloadSecrets = {};
  for (const r of resources) {
    if (r.name === DEFAULT_RESOURCE) {
      secrets.default = {
        certificateChainPem: r.tls_certificate.certificate_chain.inline_string,
        privateKeyPem: r.tls_certificate.private_key.inline_string,
      };
    } else {
      secrets.ROOTCA = { trustedCaPem: r.validation_context.trusted_ca.inline_string };
      if (r.validation_context.crl) secrets.ROOTCA.crlPem = r.validation_context.crl.inline_string;
    }
  }
  return secrets;
}

function pem(value: unknown, what: string): string {
  if (typeof value !== "string" || value.length === 0) throw new SdsError("invalid_argument", `${what} must be a non-empty string`);
  if (value.length > LIMITS.pem) throw new SdsError("invalid_argument", `${what} is larger than ${LIMITS.pem} characters`);
  return value;
}

/** Checks and copies secrets handed to the server, so later mutation by the caller cannot leak into served state. */
export function normalizeSecrets(value: unknown): WorkloadSecrets {
  if (typeof value !== "object" || value === null) throw new SdsError("invalid_argument", "secrets must be an object");
  const input = value as Record<string, unknown>;
  const out: WorkloadSecrets = {};
  if (input.default !== undefined) {
    const d = input.default as Record<string, unknown> | null;
    if (typeof d !== "object" || d === null) throw new SdsError("invalid_argument", "secrets.default must be an object");
    out.default = { certificateChainPem: pem(d.certificateChainPem, "certificateChainPem"), privateKeyPem: pem(d.privateKeyPem, "privateKeyPem") };
  }
  if (input.ROOTCA !== undefined) {
    const r = input.ROOTCA as Record<string, unknown> | null;
    if (typeof r !== "object" || r === null) throw new SdsError("invalid_argument", "secrets.ROOTCA must be an object");
    out.ROOTCA = { trustedCaPem: pem(r.trustedCaPem, "trustedCaPem") };
    if (r.crlPem !== undefined) out.ROOTCA.crlPem = pem(r.crlPem, "crlPem");
  }
  return out;
}

/** Order-insensitive comparison of two subscriptions. */
export function sameNames(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((n) => b.includes(n));
}
