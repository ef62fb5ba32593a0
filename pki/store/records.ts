/** The CA store's record types and how SQLite rows map to them. */
import { readTlv } from "../der-reader.js";

export type CaState = "prepared" | "active" | "previous" | "retired";
export type CertKind = "workload" | "node" | "manual" | "server";

export interface CaRecord {
  id: number;
  state: CaState;
  keyType: string;
  keyFile: string;
  certDer: Buffer;
  chainDer: Buffer[];
  anchorDer: Buffer;
  subject: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
  createdAt: Date;
  activatedAt?: Date;
  retiredAt?: Date;
  forceRetired: boolean;
  crlNumber: bigint;
  crlDer?: Buffer;
  crlThisUpdate?: Date;
  crlNextUpdate?: Date;
}

export interface IssuedCertificate {
  serial: string;
  caId: number;
  spiffeId: string;
  node?: string;
  kind: CertKind;
  notBefore: Date;
  notAfter: Date;
  issuedAt: Date;
  revokedAt?: Date;
  revocationReason?: string;
  certDer: Buffer;
}

export interface RegistrationEntry {
  id: string;
  spiffeId: string;
  node: string;
  workload: string;
  ttlSeconds?: number;
  dnsNames: string[];
  createdAt: Date;
}

export interface NodeRecord {
  name: string;
  spiffeId: string;
  attestedAt: Date;
  lastSerial?: string;
}

export type Row = Record<string, unknown>;

export const d = (v: unknown): Date | undefined => (v === null || v === undefined ? undefined : new Date(Number(v)));
const buf = (v: unknown): Buffer | undefined => (v === null || v === undefined ? undefined : (v as Buffer));

/** Split concatenated DER certificates, with the project's bounded DER reader. */
function splitDer(all: Buffer | undefined): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; all && off < all.length; ) {
    const node = readTlv(all, off, all.length);
    out.push(node.encoded);
    off = node.end;
  }
  return out;
}

export function toCa(r: Row): CaRecord {
  return {
    id: Number(r.id),
    state: r.state as CaState,
    keyType: String(r.key_type),
    keyFile: String(r.key_file),
    certDer: r.cert_der as Buffer,
    chainDer: splitDer(buf(r.chain_der)),
    anchorDer: r.anchor_der as Buffer,
    subject: String(r.subject),
    serial: String(r.serial),
    notBefore: new Date(Number(r.not_before)),
    notAfter: new Date(Number(r.not_after)),
    createdAt: new Date(Number(r.created_at)),
    activatedAt: d(r.activated_at),
    retiredAt: d(r.retired_at),
    forceRetired: Number(r.force_retired) === 1,
    crlNumber: BigInt(Number(r.crl_number)),
    crlDer: buf(r.crl_der),
    crlThisUpdate: d(r.crl_this_update),
    crlNextUpdate: d(r.crl_next_update),
  };
}

export function toCert(r: Row): IssuedCertificate {
  return {
    serial: String(r.serial),
    caId: Number(r.ca_id),
    spiffeId: String(r.spiffe_id),
    node: r.node === null ? undefined : String(r.node),
    kind: r.kind as CertKind,
    notBefore: new Date(Number(r.not_before)),
    notAfter: new Date(Number(r.not_after)),
    issuedAt: new Date(Number(r.issued_at)),
    revokedAt: d(r.revoked_at),
    revocationReason: r.revocation_reason === null ? undefined : String(r.revocation_reason),
    certDer: r.cert_der as Buffer,
  };
}

export function toEntry(r: Row): RegistrationEntry {
  return {
    id: String(r.id),
    spiffeId: String(r.spiffe_id),
    node: String(r.node),
    workload: String(r.workload),
    ttlSeconds: r.ttl_seconds === null ? undefined : Number(r.ttl_seconds),
    dnsNames: JSON.parse(String(r.dns_names)) as string[],
    createdAt: new Date(Number(r.created_at)),
  };
}
